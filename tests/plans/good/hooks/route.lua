-- Hooks for tests/plans/good/lua_hooks.yaml: tiny but real functions.

function route_row(tbl, row, nshards)
  return tonumber(row.id) % nshards
end

function route_order(tbl, row, nshards)
  return tonumber(row.customer_id) % nshards
end

function check_row(tbl, row)
  return true
end

function before_step(step) end
function after_step(step) end
function freeze_writes() end
function switch_traffic() end
