-- churn: a live set of 64 strings; 200,000 times a pseudo-random one is
-- replaced by a new string of varying length.
local slots = {}
for k = 0, 63 do slots[k] = tostring(k) end
local r = 12345
for i = 0, 199999 do
  r = (r * 1103515245 + 12345) % 2147483648
  local k = (r // 65536) % 64
  slots[k] = tostring(r) .. "-" .. tostring(i)
end
local total = 0
for k = 0, 63 do total = total + #slots[k] end
print(total)
print(slots[0])
