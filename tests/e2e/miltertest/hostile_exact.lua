-- Issue 14: the hostile rows Postfix does not pass on (CR, LF, NUL), byte for byte through
-- miltertest: the exact Authentication-Results value added (unfolded). The same rows, and the
-- ones Postfix passes, are in test_hostile.py. Note: miltertest sends C strings, so a NUL ends
-- the value there, as libmilter's MTAs do.
dofile(lib)

local IPREV = "mx.test; iprev=pass smtp.remote-ip=192.0.2.7 (good.test)"
local SPF = "spf=none smtp.mailfrom=example.org"
local GOOD_HELO = 'x-helo=pass smtp.helo="[192.0.2.7]"'

local rows = {
  { "helo CR LF injection", "evil.example\r\nX-Injected: yes", "<sender@example.org>",
    IPREV .. '; x-helo=fail smtp.helo="evil.example??X-Injected: yes" (syntax); ' .. SPF },
  { "helo bare LF", "evil.example\nAuthentication-Results: mx.test; iprev=pass",
    "<sender@example.org>",
    IPREV .. '; x-helo=fail smtp.helo="evil.example?Authentication-Results: mx.test; '
      .. 'iprev=pass" (syntax); ' .. SPF },
  { "helo bare CR", "evil.example\rX-Injected: yes", "<sender@example.org>",
    IPREV .. '; x-helo=fail smtp.helo="evil.example?X-Injected: yes" (syntax); ' .. SPF },
  { "helo NUL", "evil\0.example", "<sender@example.org>",
    IPREV .. "; x-helo=fail smtp.helo=evil (not-fqdn); " .. SPF },
  { "mail from CR LF", "[192.0.2.7]", "<a\r\nX-Injected: yes@example.org>",
    IPREV .. "; " .. GOOD_HELO .. "; " .. SPF },
  { "mail from NUL", "[192.0.2.7]", "<a\0b@example.org>",
    IPREV .. "; " .. GOOD_HELO .. "; spf=none smtp.mailfrom=a" },
}

for n, row in ipairs(rows) do
  T.run(row[1], function()
    local conn = T.open(GOOD_IP, row[2])
    T.message(conn, { queue_id = string.format("QEXACT%02d", n), from = row[3],
                      rcpts = { "<postmaster@example.net>" } })
    local ars = T.added_ar(conn)
    T.check(#ars == 1, #ars .. " Authentication-Results headers added, expected 1")
    local got = T.unfold(ars[1]):gsub("^%s+", ""):gsub("%s+$", "")
    T.check(got == row[4], string.format("added %q, expected %q", got, row[4]))
    mt.disconnect(conn)
  end)
end

T.finish()
