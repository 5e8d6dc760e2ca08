-- Shared helpers for the miltertest scripts; loaded with dofile(lib).
-- Globals from the runner (-D): port (the milter's TCP port on 127.0.0.1), lib (this file).
-- Note: miltertest swallows Lua errors (exit 1, no message), so every case runs in pcall and
-- prints a TAP-like "ok"/"not ok" line; the script exits 1 when any case failed.

T = { failures = 0, cases = 0 }

local reply_names = {}
for _, n in ipairs({ "SMFIR_CONTINUE", "SMFIR_ACCEPT", "SMFIR_REJECT", "SMFIR_TEMPFAIL",
                     "SMFIR_DISCARD", "SMFIR_REPLYCODE", "SMFIR_SKIP" }) do
  if _G[n] ~= nil then reply_names[_G[n]] = n end
end

function T.reply_name(r)
  if r == nil then return "nil" end
  return reply_names[r] or string.format("%q", string.char(math.floor(r)))
end

function T.check(cond, msg)
  if not cond then error(msg, 2) end
end

function T.connect()
  local conn = mt.connect("inet:" .. port .. "@127.0.0.1", 50, 0.1)
  T.check(conn ~= nil, "mt.connect failed")
  return conn
end

-- Checks that a protocol step succeeded and the milter answered one of the expected replies.
function T.expect(conn, what, rc, ...)
  T.check(rc == nil, what .. " failed: " .. tostring(rc))
  local got = mt.getreply(conn)
  local wanted = {}
  for _, e in ipairs({ ... }) do
    if got == e then return got end
    wanted[#wanted + 1] = T.reply_name(e)
  end
  error(string.format("%s: milter replied %s, expected %s", what, T.reply_name(got),
                      table.concat(wanted, " or ")), 2)
end

-- Any reply at all (the milter answered); returns it.
function T.answered(conn, what, rc)
  T.check(rc == nil, what .. " failed (milter gone?): " .. tostring(rc))
  return mt.getreply(conn)
end

function T.unfold(s)
  return (s:gsub("\r?\n[ \t]+", " "))
end

-- The Authentication-Results headers added at EOM, in order (raw values).
function T.added_ar(conn)
  local out = {}
  for i = 0, 20 do
    local v = mt.getheader(conn, "Authentication-Results", i)
    if v == nil then break end
    out[#out + 1] = v
  end
  return out
end

-- Header value sane: no NUL, no CR or LF except CRLF/LF followed by a space or a tab.
function T.check_folding(v, what)
  T.check(not v:find("%z"), what .. ": NUL in header value")
  local stripped = v:gsub("\r?\n[ \t]", "")
  T.check(not stripped:find("[\r\n]"),
          what .. ": bare CR/LF in header value: " .. string.format("%q", v))
end

-- One complete message on an open connection; returns the EOM reply.
-- opts: macros (table name->value for SMFIC_MAIL), from, rcpts (list), rcpt_replies (list of
-- allowed-reply lists, default CONTINUE), headers (list of {name, value}).
function T.message(conn, opts)
  local macros = { "i", opts.queue_id or "QID" .. tostring(T.cases) }
  for k, v in pairs(opts.macros or {}) do
    macros[#macros + 1] = k
    macros[#macros + 1] = v
  end
  mt.macro(conn, SMFIC_MAIL, table.unpack(macros))
  T.expect(conn, "MAIL FROM", mt.mailfrom(conn, opts.from or "<sender@example.org>"),
           SMFIR_CONTINUE)
  for i, rcpt in ipairs(opts.rcpts or { "<user@example.net>" }) do
    local allowed = (opts.rcpt_replies and opts.rcpt_replies[i]) or { SMFIR_CONTINUE }
    T.expect(conn, "RCPT TO " .. rcpt, mt.rcptto(conn, rcpt), table.unpack(allowed))
  end
  for _, h in ipairs(opts.headers or { { "From", "sender@example.org" },
                                       { "Subject", "test" } }) do
    T.expect(conn, "header " .. h[1], mt.header(conn, h[1], h[2]), SMFIR_CONTINUE)
  end
  if not mt.test_option(conn, SMFIP_NOEOH) then
    T.expect(conn, "EOH", mt.eoh(conn), SMFIR_CONTINUE)
  end
  if not mt.test_option(conn, SMFIP_NOBODY) then
    T.expect(conn, "body", mt.bodystring(conn, "body\r\n"), SMFIR_CONTINUE, SMFIR_SKIP)
  end
  return T.expect(conn, "EOM", mt.eom(conn), SMFIR_CONTINUE, SMFIR_ACCEPT)
end

-- Splits an unfolded Authentication-Results value at top-level semicolons (not inside
-- quoted strings or comments); returns the trimmed parts: authserv-id, then each resinfo.
function T.split_ar(v)
  local parts, cur, i, quoted, depth = {}, {}, 1, false, 0
  while i <= #v do
    local c = v:sub(i, i)
    if c == "\\" and (quoted or depth > 0) and i < #v then
      cur[#cur + 1] = v:sub(i, i + 1)
      i = i + 2
    else
      if quoted then
        quoted = (c ~= '"')
      elseif depth > 0 then
        if c == "(" then depth = depth + 1 elseif c == ")" then depth = depth - 1 end
      elseif c == '"' then
        quoted = true
      elseif c == "(" then
        depth = 1
      end
      if c == ";" and not quoted and depth == 0 then
        parts[#parts + 1] = table.concat(cur):match("^%s*(.-)%s*$")
        cur = {}
      else
        cur[#cur + 1] = c
      end
      i = i + 1
    end
  end
  parts[#parts + 1] = table.concat(cur):match("^%s*(.-)%s*$")
  return parts
end

-- The header is ours (authserv-id mx.test) and holds exactly one iprev result, which matches
-- `pattern`; returns that result.
function T.check_ar(value, pattern, what)
  T.check_folding(value, what)
  local parts = T.split_ar(T.unfold(value))
  T.check(parts[1] == "mx.test", string.format("%s: authserv-id %q, expected mx.test", what,
                                                parts[1]))
  local found = {}
  for k = 2, #parts do
    if parts[k]:find("^iprev=") then found[#found + 1] = parts[k] end
  end
  T.check(#found == 1, string.format("%s: %d iprev results in %q", what, #found,
                                     T.unfold(value)))
  T.check(found[1]:find(pattern), string.format("%s: %q does not match %q", what, found[1],
                                                pattern))
  return found[1]
end

-- Exactly one A-R header added at EOM, checked with T.check_ar.
function T.expect_one_ar(conn, pattern, what)
  local ars = T.added_ar(conn)
  T.check(#ars == 1, string.format("%s: %d Authentication-Results headers added, expected 1",
                                   what, #ars))
  return T.check_ar(ars[1], pattern, what)
end

function T.run(name, fn)
  T.cases = T.cases + 1
  local ok, err = pcall(fn)
  if ok then
    print("ok - " .. name)
  else
    T.failures = T.failures + 1
    print("not ok - " .. name .. ": " .. tostring(err))
  end
end

function T.finish()
  print(string.format("# %d cases, %d failed", T.cases, T.failures))
  if T.failures > 0 then os.exit(1) end
  os.exit(0)
end

GOOD_IP = "192.0.2.7"
NO_PTR_IP = "192.0.2.12"
PASS_AR = "^iprev=pass smtp%.remote%-ip=192%.0%.2%.7 %(good%.test%)$"
FAIL_AR = "^iprev=fail smtp%.remote%-ip=192%.0%.2%.12%f[^%d]"

-- A new milter connection from `ip` that has sent HELO `helo` (default: the address literal;
-- every fixture name is under .test, which the HELO check rejects as a private TLD).
function T.open(ip, helo, hostname)
  local conn = T.connect()
  T.expect(conn, "connect " .. ip, mt.conninfo(conn, hostname or ("[" .. ip .. "]"), ip),
           SMFIR_CONTINUE)
  if not mt.test_option(conn, SMFIP_NOHELO) then
    T.expect(conn, "HELO", mt.helo(conn, helo or ("[" .. ip .. "]")), SMFIR_CONTINUE)
  end
  return conn
end
