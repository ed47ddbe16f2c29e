-- arith: an integer loop, s = (s + i*i) mod 1000003 for i below 1,000,000.
local s = 0
for i = 0, 999999 do
  s = (s + i * i) % 1000003
end
print(s)
