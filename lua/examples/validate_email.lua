-- validate_email.lua — refuse customers whose email is not an address.
--
-- validate(table, row) returns true, or false and a reason.  With
-- hooks.validate_mode: stop (the default) the first bad row stops the copy
-- or the stream, naming the table and the key; with report, bad rows are
-- still moved and listed by `pgreshard status`.
--
-- Plan: plans/validate_email.yaml (validate: check_email).

local pattern = "^[%w._%%+-]+@[%w-]+%.[%w.-]+$"

function check_email(table, row)
  if table ~= "public.customers" then
    return true
  end
  local email = row.email
  if email == nil then
    return false, "email is missing"
  end
  if #email > 254 then
    return false, "email is longer than 254 characters"
  end
  if not email:match(pattern) then
    return false, "not an email address: " .. email
  end
  return true
end
