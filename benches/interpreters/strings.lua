-- strings: 200,000 int-to-string conversions appended to a line, which is
-- counted and restarted whenever it passes 100 characters.
local line, total = "", 0
for i = 0, 199999 do
  line = line .. tostring(i) .. ","
  if #line > 100 then
    total = total + #line
    line = ""
  end
end
print(total)
print(line)
