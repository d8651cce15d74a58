-- The sandbox every script runs in (Redis 7.0's script_lua.c rules), run
-- once when the engine starts, with the real globals as its environment.
--
-- Arguments: the host functions written in Rust (see engine.rs).
-- Returns: the globals proxy scripts see, the redis library, the
-- load-mode switch, the error handler and the real globals (the engine
-- runs scripts and library code itself: see call_script in engine.rs).
--
-- Read-only tables: Redis's Lua has a patched VM with read-only tables.
-- Stock Lua 5.1 has none, so every protected table here is an empty proxy
-- whose __index is the real table and whose __newindex raises Redis's
-- error; rawset, setmetatable and the table library refuse proxies too.
local host = ...

local R = _G
local dbg = debug
local debug_getmetatable = debug.getmetatable
local error, type, tostring, select, rawget, rawset = error, type, tostring, select, rawget, rawset
local real_setmetatable, getmetatable, xpcall, real_pcall, unpack = setmetatable, getmetatable, xpcall, pcall, unpack
local floor, ceil, real_loadstring, real_load = math.floor, math.ceil, loadstring, load
local tinsert, tremove, tsort, tsetn, tconcat = table.insert, table.remove, table.sort, table.setn, table.concat
local RO = 'Attempt to modify a readonly table'

-- proxy -> the real table it shows (weak: views die with their tables).
local real_of = real_setmetatable({}, { __mode = 'k' })
-- real table -> its one read-only view.
local view_of = real_setmetatable({}, { __mode = 'kv' })

local function refuse() error(RO, 2) end

-- The read-only view of t: an empty proxy reading through to t. Its
-- metatable, as getmetatable shows it, is itself a view whose table-valued
-- fields are views too, so no path leads back to a writable real table.
local protect
local function deep_view(t)
  return real_setmetatable({}, {
    __index = function(_, k)
      local v = t[k]
      if type(v) == 'table' then return protect(v) end
      return v
    end,
    __newindex = refuse,
    __metatable = false,
  })
end
protect = function(t)
  if real_of[t] then return t end
  local existing = view_of[t]
  if existing then return existing end
  local proxy = {}
  local mt = { __index = t, __newindex = refuse }
  local mt_view = deep_view(mt)
  real_of[mt_view] = mt
  mt.__metatable = mt_view
  real_of[proxy] = t
  view_of[t] = proxy
  return real_setmetatable(proxy, mt)
end

-- Builtins that could write through a view refuse it (Redis raises from
-- the C function, so the message has no position).
local function guard(f)
  return function(t, ...)
    if real_of[t] then error(RO, 0) end
    return f(t, ...)
  end
end
R.rawset = guard(rawset)
R.setmetatable = guard(real_setmetatable)
table.insert = guard(tinsert)
table.remove = guard(tremove)
table.sort = guard(tsort)
table.setn = guard(tsetn)
-- Reading builtins read the real table behind a view.
local real_next, real_pairs, real_ipairs = next, pairs, ipairs
R.rawget = function(t, k) return rawget(real_of[t] or t, k) end
R.next = function(t, k) return real_next(real_of[t] or t, k) end
R.pairs = function(t)
  if real_of[t] then return R.next, t, nil end
  return real_pairs(t)
end
R.ipairs = function(t) return real_ipairs(real_of[t] or t) end
-- Function environments would hand out the real globals (Redis 7.0.15
-- has neither function).
R.getfenv, R.setfenv = nil, nil

-- Compiled code only: precompiled chunks are refused (loadstring answers nil).
R.loadstring = function(s, name)
  if type(s) == 'string' and s:byte(1) == 27 then return nil, 'binary chunks are not allowed' end
  return real_loadstring(s, name)
end
R.load = function(f, name)
  if type(f) ~= 'function' then return real_load(f, name) end
  local parts = {}
  while true do
    local piece = f()
    if piece == nil or piece == '' then break end
    if type(piece) ~= 'string' then return nil, 'reader function must return a string' end
    parts[#parts + 1] = piece
  end
  return R.loadstring(tconcat(parts), name or '=(load)')
end

-- Redis's pcall: an error raised as a table {err=...} is answered as its text.
R.pcall = function(f, ...)
  local res = { real_pcall(f, ...) }
  if not res[1] then
    local e = res[2]
    if type(e) == 'userdata' then e = host.describe(e) end
    if type(e) == 'table' and type(rawget(e, 'err')) == 'string' then return false, rawget(e, 'err') end
    return false, e
  end
  return unpack(res, 1, table.maxn(res))
end

-- math.random/randomseed on Redis's rand48, the same sequence on every platform.
local function checkint(v, n, fname)
  local x = tonumber(v)
  if x == nil then
    local got = (v == nil) and 'no value' or type(v)
    error("bad argument #" .. n .. " to '" .. fname .. "' (number expected, got " .. got .. ")", 3)
  end
  if x >= 0 then return floor(x) else return ceil(x) end
end
math.random = function(...)
  local r = host.rand()
  local n = select('#', ...)
  if n == 0 then return r end
  local a, b = ...
  if n == 1 then
    local u = checkint(a, 1, 'random')
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 2) end
    return floor(r * u) + 1
  elseif n == 2 then
    local l, u = checkint(a, 1, 'random'), checkint(b, 2, 'random')
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 2) end
    return floor(r * (u - l + 1)) + l
  end
  error('wrong number of arguments', 2)
end
math.randomseed = function(s) host.srand(checkint(s, 1, 'randomseed')) end

-- The redis library. call, pcall, setresp, set_repl and acl_check_cmd are
-- Rust functions the engine installs for each run; errors they raise are
-- Rust values that host.describe turns back into Redis error tables.
local describe = host.describe
local redis = {}
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.sha1hex = host.sha1hex
redis.error_reply = function(...)
  local n, e = select('#', ...), ...
  if n ~= 1 or type(e) ~= 'string' then return { err = 'ERR wrong number or type of arguments' } end
  return host.error_table(e)
end
redis.status_reply = function(...)
  local n, s = select('#', ...), ...
  if n ~= 1 or type(s) ~= 'string' then return { err = 'ERR wrong number or type of arguments' } end
  return { ok = s }
end
redis.log = function(...)
  local n, level = select('#', ...), ...
  if n < 2 then error({ err = 'ERR redis.log() requires two arguments or more.' }, 0) end
  if type(level) ~= 'number' and tonumber(level) == nil then
    error({ err = 'ERR First argument must be a number (log level).' }, 0)
  end
  level = tonumber(level)
  if level < 0 or level > 3 then error({ err = 'ERR Invalid debug level.' }, 0) end
  local parts = {}
  for i = 2, n do
    local v = select(i, ...)
    if type(v) == 'string' or type(v) == 'number' then parts[#parts + 1] = tostring(v) end
  end
  host.log(level, tconcat(parts, ' '))
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = host.version, host.version_num
R.redis = redis
for name, lib in pairs(host.libs) do R[name] = lib end

-- Errors become Redis error tables carrying where the script failed (the
-- nearest frame of the user's code: C functions and this file are skipped).
local function handler(err)
  local level = 2
  local info = dbg.getinfo(level, 'nSl')
  while info and (info.what == 'C' or info.source == '=redis' or info.source == '=(tail call)') do
    level = level + 1
    info = dbg.getinfo(level, 'nSl')
  end
  if type(err) == 'userdata' then err = describe(err) end
  if type(err) ~= 'table' then err = { err = 'ERR ' .. tostring(err) } end
  if info then
    err.source = info.source
    err.line = info.currentline
  end
  return err
end

R.debug = nil
R.print, R.loadfile, R.dofile, R.module, R.require, R.package, R.os, R.io = nil

-- Reading a global that does not exist is an error.
real_setmetatable(R, {
  __index = function(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end,
  __metatable = false,
})

for _, name in ipairs({ 'string', 'table', 'math', 'coroutine', 'redis', 'cjson', 'bit', 'struct', 'cmsgpack' }) do
  if rawget(R, name) ~= nil then rawset(R, name, protect(rawget(R, name))) end
end
-- String methods: ("x"):upper() keeps working, the metatable cannot change.
local string_mt = getmetatable('')
if string_mt then string_mt.__metatable = deep_view(string_mt) end

-- What FUNCTION LOAD's code sees: only redis.register_function, redis.log
-- and the version fields (Redis's "load library globals").
local function strict(t)
  return real_setmetatable(t, {
    __index = function(_, name)
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 0)
    end,
    __metatable = false,
  })
end
local load_redis = strict({
  register_function = host.register_function,
  log = redis.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = host.version, REDIS_VERSION_NUM = host.version_num,
})
local L = strict({ redis = protect(load_redis) })

local G = protect(R)
rawset(R, '_G', G)
-- getmetatable(G) answers the read-only view; reach the real metatable.
local real_mt = debug_getmetatable(G)
local function set_load_mode(on)
  rawset(real_mt, '__index', on and L or R)
end
return G, redis, set_load_mode, handler, R
