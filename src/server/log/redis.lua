#!lua name=tidings_v1
-- The Tidings event log as a Redis function library (Redis 7+). Loaded by every node at start
-- (`FUNCTION LOAD REPLACE`); each call is atomic, so an event and its state change are never
-- seen apart, by any node. The version is in the library and function names: nodes of another
-- version keep their own functions during a rolling upgrade.
--
-- Keys, under a prefix P (first argument of every call; keys are not declared, so this runs on
-- a standalone Redis or a primary with replicas, not on Redis Cluster):
--   P:meta                 hash: schema, origin (where the log began), last (newest id),
--                          count (events ever appended; numbers the tail stream)
--   P:log                  stream of every event in one total order (fields c k y d n), capped;
--                          each node's hub tails it with XREAD BLOCK
--   P:ch:<channel>         stream of the channel's history (fields k y d), same ids; replay
--                          reads these, retention trims them
--   P:ent:<channel>:<kind> hash key -> JSON of live entries (item, alert, weather)
--   P:eid:<channel>:<kind> hash key -> event id of the live entry
--   P:new:<channel>:<kind> sorted set, all scores 0, members "<padded id>|<key>": newest first
--   P:exp                  sorted set, score = expiry millis, members "<channel>\n<kind>\n<key>"
--   P:chan:<channel>       hash: info, info_id (metadata event), pruned (newest id deleted)
--   P:channels             set of channels with metadata
--   P:lease:<name>         string: the holder's fencing token (see tidings_v1_lease)

local SCHEMA = 1

local function parse_id(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end

-- Compares two ids: -1, 0 or 1.
local function cmp(a, b)
  local am, as = parse_id(a)
  local bm, bs = parse_id(b)
  if am ~= bm then return am < bm and -1 or 1 end
  if as ~= bs then return as < bs and -1 or 1 end
  return 0
end

-- Zero-padded so that lexicographic order is id order.
local function pad(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return string.rep('0', 20 - #ms) .. ms .. '-' .. string.rep('0', 20 - #seq) .. seq
end

local function now_millis()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function live(p, member, now)
  local expires = redis.call('ZSCORE', p .. ':exp', member)
  return (not expires) or tonumber(expires) > now
end

-- Live entries of one kind in a channel, newest first, at most `limit` (negative: all), as
-- flat {id, kind, key, data, ...} appended to `out`.
local function newest_live(p, ch, kind, limit, now, out)
  local newest = p .. ':new:' .. ch .. ':' .. kind
  local ent = p .. ':ent:' .. ch .. ':' .. kind
  local eid = p .. ':eid:' .. ch .. ':' .. kind
  local found, offset, batch = 0, 0, 200
  while limit < 0 or found < limit do
    local members = redis.call('ZREVRANGEBYLEX', newest, '+', '-', 'LIMIT', offset, batch)
    if #members == 0 then break end
    for _, member in ipairs(members) do
      local key = string.sub(member, 43)
      if live(p, ch .. '\n' .. kind .. '\n' .. key, now) then
        out[#out + 1] = redis.call('HGET', eid, key)
        out[#out + 1] = kind
        out[#out + 1] = key
        out[#out + 1] = redis.call('HGET', ent, key)
        found = found + 1
        if limit >= 0 and found >= limit then break end
      end
    end
    offset = offset + batch
  end
end

-- Removes the live entry `key` of `kind`; 1 if there was one.
local function remove_entry(p, ch, kind, key)
  local eid = p .. ':eid:' .. ch .. ':' .. kind
  local old = redis.call('HGET', eid, key)
  if not old then return 0 end
  redis.call('HDEL', eid, key)
  redis.call('HDEL', p .. ':ent:' .. ch .. ':' .. kind, key)
  redis.call('ZREM', p .. ':new:' .. ch .. ':' .. kind, pad(old) .. '|' .. key)
  redis.call('ZREM', p .. ':exp', ch .. '\n' .. kind .. '\n' .. key)
  return 1
end

-- Opens the log: records the schema and where the log began (once). Returns
-- {schema, origin, last, count}, or an error for a newer schema.
local function open(keys, args)
  local p = args[1]
  local meta = p .. ':meta'
  local found = tonumber(redis.call('HGET', meta, 'schema') or '0')
  if found > SCHEMA then
    return redis.error_reply('NEWER_SCHEMA ' .. found)
  end
  redis.call('HSET', meta, 'schema', SCHEMA)
  if not redis.call('HGET', meta, 'last') then
    redis.call('HSETNX', meta, 'origin', now_millis() .. '-0')
  end
  local values = redis.call('HMGET', meta, 'origin', 'last', 'count')
  return {SCHEMA, values[1] or '0-0', values[2] or '0-0', values[3] or '0'}
end

-- Appends events and applies their state changes. Arguments: prefix, tail stream cap, fence
-- lease name ('' for none), fence token, then six per event: channel, kind, key ('' when
-- none), data, change ('u' upsert, 'r' remove, 'c' channel info), extra (upsert: expiry millis
-- or ''; remove: the entry kind). Returns {id, replaced (0/1), ...}.
local function append(keys, args)
  local p, cap, lease, token = args[1], args[2], args[3], args[4]
  if lease ~= '' and redis.call('GET', p .. ':lease:' .. lease) ~= token then
    return redis.error_reply('FENCED the lease ' .. lease .. ' is held by another node now')
  end
  local now = now_millis()
  local meta = p .. ':meta'
  local out = {}
  for b = 5, #args, 6 do
    local ch, kind, key, data, change, extra =
      args[b], args[b + 1], args[b + 2], args[b + 3], args[b + 4], args[b + 5]
    local count = redis.call('HINCRBY', meta, 'count', 1)
    local id = redis.call('XADD', p .. ':log', 'MAXLEN', '~', cap, '*',
      'c', ch, 'k', kind, 'y', key, 'd', data, 'n', count)
    redis.call('XADD', p .. ':ch:' .. ch, id, 'k', kind, 'y', key, 'd', data)
    local replaced = 0
    if change == 'u' then
      local member = ch .. '\n' .. kind .. '\n' .. key
      local eid = p .. ':eid:' .. ch .. ':' .. kind
      local old = redis.call('HGET', eid, key)
      if old then
        if live(p, member, now) then replaced = 1 end
        redis.call('ZREM', p .. ':new:' .. ch .. ':' .. kind, pad(old) .. '|' .. key)
      end
      redis.call('HSET', p .. ':ent:' .. ch .. ':' .. kind, key, data)
      redis.call('HSET', eid, key, id)
      redis.call('ZADD', p .. ':new:' .. ch .. ':' .. kind, 0, pad(id) .. '|' .. key)
      if extra ~= '' then
        redis.call('ZADD', p .. ':exp', extra, member)
      else
        redis.call('ZREM', p .. ':exp', member)
      end
    elseif change == 'r' then
      replaced = remove_entry(p, ch, extra, key)
    else
      redis.call('HSET', p .. ':chan:' .. ch, 'info', data, 'info_id', id)
      redis.call('SADD', p .. ':channels', ch)
      replaced = 1
    end
    redis.call('HSET', meta, 'last', id)
    out[#out + 1] = id
    out[#out + 1] = replaced
  end
  return out
end

-- History after an id. Arguments: prefix, after, limit, channels... Returns
-- {last, origin, oldest kept boundary, {ch, id, kind, key, data, ...}}; the caller decides
-- whether that is a gap, and merges the channels' pages.
local function replay(keys, args)
  local p, after, limit = args[1], args[2], tonumber(args[3])
  local meta = redis.call('HMGET', p .. ':meta', 'last', 'origin')
  local oldest = '0-0'
  local out = {}
  for i = 4, #args do
    local ch = args[i]
    local pruned = redis.call('HGET', p .. ':chan:' .. ch, 'pruned')
    if pruned and cmp(pruned, oldest) > 0 then oldest = pruned end
    local rows = redis.call('XRANGE', p .. ':ch:' .. ch, '(' .. after, '+', 'COUNT', limit)
    for _, row in ipairs(rows) do
      local f = row[2]
      out[#out + 1] = ch
      out[#out + 1] = row[1]
      out[#out + 1] = f[2]
      out[#out + 1] = f[4]
      out[#out + 1] = f[6]
    end
  end
  return {meta[1] or '0-0', meta[2] or '0-0', oldest, out}
end

-- Current state. Arguments: prefix, items per channel, channel count, channels..., cells...
-- Returns {last, {ch, id, kind, key, data, ...}}.
local function snapshot(keys, args)
  local p, per_channel, count = args[1], tonumber(args[2]), tonumber(args[3])
  local now = now_millis()
  local out = {}
  local function emit(ch, rows)
    for i = 1, #rows, 4 do
      out[#out + 1] = ch
      for j = 0, 3 do out[#out + 1] = rows[i + j] end
    end
  end
  for i = 4, 3 + count do
    local ch = args[i]
    local info = redis.call('HMGET', p .. ':chan:' .. ch, 'info_id', 'info')
    if info[2] then emit(ch, {info[1], 'channel', '', info[2]}) end
    local rows = {}
    newest_live(p, ch, 'item', per_channel, now, rows)
    newest_live(p, ch, 'alert', -1, now, rows)
    for c = 4 + count, #args do
      local data = redis.call('HGET', p .. ':ent:' .. ch .. ':weather', args[c])
      if data then
        rows[#rows + 1] = redis.call('HGET', p .. ':eid:' .. ch .. ':weather', args[c])
        rows[#rows + 1] = 'weather'
        rows[#rows + 1] = args[c]
        rows[#rows + 1] = data
      end
    end
    emit(ch, rows)
  end
  return {redis.call('HGET', p .. ':meta', 'last') or '0-0', out}
end

-- Live items and alerts of one channel, newest first. Arguments: prefix, channel, limit.
-- Returns {id, kind, key, data, ...} (each kind newest first; the caller merges).
local function entries(keys, args)
  local p, ch, limit = args[1], args[2], tonumber(args[3])
  local now = now_millis()
  local out = {}
  newest_live(p, ch, 'item', limit, now, out)
  newest_live(p, ch, 'alert', limit, now, out)
  return out
end

-- One live entry. Arguments: prefix, channel, kind, key. Returns {id, data} or {}.
local function entry(keys, args)
  local p, ch, kind, key = args[1], args[2], args[3], args[4]
  local id = redis.call('HGET', p .. ':eid:' .. ch .. ':' .. kind, key)
  if not id or not live(p, ch .. '\n' .. kind .. '\n' .. key, now_millis()) then return {} end
  return {id, redis.call('HGET', p .. ':ent:' .. ch .. ':' .. kind, key)}
end

-- The newest id that changed a channel's content. Arguments: prefix, channel. Returns the id
-- or false.
local function latest_change(keys, args)
  local p, ch = args[1], args[2]
  local newest = false
  local stream = p .. ':ch:' .. ch
  local last = '+'
  while not newest do
    local rows = redis.call('XREVRANGE', stream, last, '-', 'COUNT', 50)
    if #rows == 0 then break end
    for _, row in ipairs(rows) do
      if row[2][2] ~= 'channel' then newest = row[1]; break end
    end
    last = '(' .. rows[#rows][1]
  end
  for _, kind in ipairs({'item', 'alert', 'weather'}) do
    local top = redis.call('ZREVRANGEBYLEX', p .. ':new:' .. ch .. ':' .. kind, '+', '-', 'LIMIT', 0, 1)
    if #top > 0 then
      local id = redis.call('HGET', p .. ':eid:' .. ch .. ':' .. kind, string.sub(top[1], 43))
      if id and ((not newest) or cmp(id, newest) > 0) then newest = id end
    end
  end
  return newest
end

-- Metadata of every channel that has some. Arguments: prefix. Returns {id, info, ...}.
local function channel_infos(keys, args)
  local p = args[1]
  local out = {}
  for _, ch in ipairs(redis.call('SMEMBERS', p .. ':channels')) do
    local info = redis.call('HMGET', p .. ':chan:' .. ch, 'info_id', 'info')
    if info[2] then
      out[#out + 1] = info[1]
      out[#out + 1] = info[2]
    end
  end
  return out
end

-- Retention for one channel. Arguments: prefix, channel, max events, cutoff millis, live items
-- kept. Returns {deleted, aged_out}.
local function prune(keys, args)
  local p, ch = args[1], args[2]
  local max, cutoff, keep = tonumber(args[3]), args[4], tonumber(args[5])
  local stream = p .. ':ch:' .. ch
  local deleted, through = 0, nil
  local len = redis.call('XLEN', stream)
  if len > max then
    -- The newest deleted id, read from whichever end is shorter.
    local excess = len - max
    if excess <= max + 1 then
      local gone = redis.call('XRANGE', stream, '-', '+', 'COUNT', excess)
      through = gone[#gone][1]
    else
      local kept = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', max + 1)
      through = kept[#kept][1]
    end
    deleted = deleted + redis.call('XTRIM', stream, 'MAXLEN', max)
  end
  local old = redis.call('XREVRANGE', stream, '(' .. cutoff .. '-0', '-', 'COUNT', 1)
  if #old > 0 then
    if not through or cmp(old[1][1], through) > 0 then through = old[1][1] end
    deleted = deleted + redis.call('XTRIM', stream, 'MINID', cutoff .. '-0')
  end
  if through then
    local chan = p .. ':chan:' .. ch
    local pruned = redis.call('HGET', chan, 'pruned')
    if not pruned or cmp(through, pruned) > 0 then redis.call('HSET', chan, 'pruned', through) end
  end
  -- Live news items are state, not history, but feeds roll forever: keep the newest.
  local newest = p .. ':new:' .. ch .. ':item'
  local aged = redis.call('ZCARD', newest) - keep
  if aged > 0 then
    for _, member in ipairs(redis.call('ZRANGE', newest, 0, aged - 1)) do
      remove_entry(p, ch, 'item', string.sub(member, 43))
    end
  else
    aged = 0
  end
  return {deleted, aged}
end

-- Leases (one poller per source across nodes). Arguments: prefix, name, holder token or ''
-- to acquire, ttl millis. Acquire: a fresh fencing token (increasing per lease) if the lease
-- is free, else false. Renew: the token if still held (and extends it), else false.
local function lease(keys, args)
  local p, name, token, ttl = args[1], args[2], args[3], args[4]
  local key = p .. ':lease:' .. name
  if token == '' then
    local fresh = tostring(redis.call('HINCRBY', p .. ':meta', 'fence', 1))
    if redis.call('SET', key, fresh, 'NX', 'PX', ttl) then return fresh end
    return false
  end
  if redis.call('GET', key) == token then
    redis.call('PEXPIRE', key, ttl)
    return token
  end
  return false
end

-- Gives a lease up if still held. Arguments: prefix, name, token.
local function release(keys, args)
  local key = args[1] .. ':lease:' .. args[2]
  if redis.call('GET', key) == args[3] then redis.call('DEL', key) return 1 end
  return 0
end

redis.register_function('tidings_v1_open', open)
redis.register_function('tidings_v1_append', append)
redis.register_function{function_name = 'tidings_v1_replay', callback = replay, flags = {'no-writes'}}
redis.register_function{function_name = 'tidings_v1_snapshot', callback = snapshot, flags = {'no-writes'}}
redis.register_function{function_name = 'tidings_v1_entries', callback = entries, flags = {'no-writes'}}
redis.register_function{function_name = 'tidings_v1_entry', callback = entry, flags = {'no-writes'}}
redis.register_function{function_name = 'tidings_v1_latest_change', callback = latest_change, flags = {'no-writes'}}
redis.register_function{function_name = 'tidings_v1_channel_infos', callback = channel_infos, flags = {'no-writes'}}
redis.register_function('tidings_v1_prune', prune)
redis.register_function('tidings_v1_lease', lease)
redis.register_function('tidings_v1_release', release)
