-- torture: 200 rounds of: make 400 small strings and keep them, drop every
-- other one, then make one string of 8000 characters.
local total = 0
for round = 0, 199 do
  local keep = {}
  for i = 0, 399 do keep[i] = "item-" .. tostring(i) .. "-" .. tostring(round) end
  for i = 0, 399, 2 do keep[i] = nil end
  local big = string.rep("x", 8000)
  total = total + #big
  for i = 1, 399, 2 do total = total + #keep[i] end
end
print(total)
