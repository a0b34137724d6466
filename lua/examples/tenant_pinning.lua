-- tenant_pinning.lua — tenants pinned to shards, everyone else hashed.
--
-- The biggest tenants get a shard chosen by hand (the `pinned` table below,
-- reviewed in git like the plan); every other tenant goes where the
-- built-in PostgreSQL-compatible hash puts it.  Every table routed by this
-- hook carries tenant_id, so all of a tenant's rows land on one shard.
--
-- Plan: plans/tenant_pinning.yaml (route: route_by_tenant, reads: [tenant_id];
-- the tenants table itself uses route_tenant_row on its id).

local pinned = {
  ["1"] = 0,     -- the largest tenant owns shard 0 ...
  ["2"] = 1,     -- ... the next one shard 1
  ["3"] = 1,
}

local function shard_of_tenant(tenant, nshards)
  local shard = pinned[tenant]
  if shard ~= nil and shard < nshards then
    return shard
  end
  return pgreshard.hash(tenant, "bigint", nshards)
end

-- Tables that carry the tenant as tenant_id.
function route_by_tenant(table, row, nshards)
  if row.tenant_id == nil then
    error("row without tenant_id in " .. table)
  end
  return shard_of_tenant(row.tenant_id, nshards)
end

-- The tenants table itself: its id is the tenant.
function route_tenant_row(table, row, nshards)
  return shard_of_tenant(row.id, nshards)
end
