-- date_ranges.lua — rows routed by date range: one shard per period.
--
-- `created_at` arrives as PostgreSQL prints it (timestamptz: "2025-03-14
-- 09:26:53.58979+00"), so comparing its first ten characters as text
-- compares dates.  Rows after the last boundary go to the last shard.
--
-- Plan: plans/date_ranges.yaml (route: route_by_date, reads: [created_at]).

local boundaries = {   -- a row goes to the first shard whose period ends after it
  { before = "2024-01-01", shard = 0 },
  { before = "2025-01-01", shard = 1 },
  { before = "2026-01-01", shard = 2 },
}

function route_by_date(table, row, nshards)
  local ts = row.created_at
  if ts == nil then
    return 0                     -- undated rows live with the oldest period
  end
  local day = ts:sub(1, 10)
  for _, b in ipairs(boundaries) do
    if day < b.before then
      return math.min(b.shard, nshards - 1)
    end
  end
  return nshards - 1
end
