// RunStore's Lua scripts: each one step that must see and change a run's keys atomically.

// Moves a run to `finalizing` once every chunk index 0..total-1 has a record (HLEN alone would count records of
// indexes a changed listing no longer has). The lock key expires so a finaliser that dies is replaced by the next
// caller; the state check makes a finalised run final.
export const BEGIN_FINALIZE = `
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' and state ~= 'finalizing' then return 0 end
local total = tonumber(redis.call('HGET', KEYS[1], 'totalChunks'))
if not total then return 0 end
if redis.call('HLEN', KEYS[2]) < total then return 0 end
for i = 0, total - 1 do
  if redis.call('HEXISTS', KEYS[2], tostring(i)) == 0 then return 0 end
end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 'finalizing')
  return 1
end
return 0
`;

// Ends a finalisation: only the lock's owner, and only while the run is still finalizing (retry-failed may have
// re-opened it meanwhile, and then the run must finalise again rather than be marked final).
export const END_FINALIZE = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
if redis.call('HGET', KEYS[1], 'state') ~= 'finalizing' then return 0 end
if ARGV[2] == 'done' then
  redis.call('HSET', KEYS[1], 'state', 'finalized', 'manifestWrittenAt', ARGV[3])
  redis.call('HDEL', KEYS[1], 'finalizeError')
else
  redis.call('HSET', KEYS[1], 'state', 'running', 'finalizeError', ARGV[3])
end
return 1
`;

// The fence of a chunk commit, checked before the shard is written and again, atomically, when it is recorded:
// - the writer holds the chunk job's BullMQ lock (a worker whose lock lapsed, after a SIGSTOP, a GC pause or a
//   partition, never writes), or records a job that BullMQ failed for good;
// - the run is neither finalising, finalised nor cancelled (outputs a manifest lists are never touched);
// - failure rows never replace a committed chunk's rows.
// ARGV: mode ('check' | 'record'), chunk index, fence kind ('lock' | 'failed-job' | 'none'), token or job id,
// failed ('1' | '0'), record JSON.
export const FENCED_COMMIT = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'no-run' end
if state == 'cancelled' then return 'cancelled' end
if state == 'finalizing' or state == 'finalized' then return 'run-finished' end
if ARGV[3] == 'lock' then
  if redis.call('GET', KEYS[3]) ~= ARGV[4] then return 'lock-lost' end
elseif ARGV[3] == 'failed-job' then
  if not redis.call('ZSCORE', KEYS[3], ARGV[4]) then return 'lock-lost' end
end
if ARGV[5] == '1' then
  local existing = redis.call('HGET', KEYS[2], ARGV[2])
  if existing and not cjson.decode(existing).failed then return 'committed' end
end
if ARGV[1] == 'record' then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[6])
  redis.call('HDEL', KEYS[4], ARGV[2])
end
return 'ok'
`;

// Records the totals once the producer has enqueued every chunk. A finalised run whose chunk count changed
// (it gained chunks) is open again, so it finalises again with them.
export const MARK_ENQUEUED = `
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'cancelled' then return 0 end
local before = redis.call('HGET', KEYS[1], 'totalChunks')
redis.call('HSET', KEYS[1], 'totalChunks', ARGV[1], 'totalInputs', ARGV[2], 'tarShards', ARGV[3])
if state == 'enqueuing' or not state then
  redis.call('HSET', KEYS[1], 'state', 'running')
elseif state == 'finalized' and before ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'state', 'running')
  redis.call('HDEL', KEYS[1], 'manifestWrittenAt')
end
return 1
`;

// Re-opens a run for retry-failed in one step: the chunks' records go and the run is running again, so no
// finaliser sees the run complete with the stale records; a finalisation in progress loses its lock.
export const REOPEN = `
redis.call('HSET', KEYS[1], 'state', 'running')
redis.call('HDEL', KEYS[1], 'manifestWrittenAt')
redis.call('DEL', KEYS[3])
if #ARGV > 0 then redis.call('HDEL', KEYS[2], unpack(ARGV)) end
return 1
`;
