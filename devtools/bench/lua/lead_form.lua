-- POST the public lead form (/start/) with a distinct email per request.
-- Args: path cookie csrf_token started_token terms_id marketing_id sms_id [json]
-- With "json" as the 8th argument it posts to the JSON API instead (path is then the API).
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  path, cookie, csrf, started = args[1], args[2], args[3], args[4]
  terms_id, marketing_id, sms_id = args[5], args[6], args[7]
  json_mode = args[8] == "json"
  thread_id = tonumber(wrk.thread:get("tid")) or 0
  run_id = tostring(os.time())
end

local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  counter = counter + 1
  local email = string.format("bench-%s-%d-%d@example.com", run_id, thread_id, counter)
  if json_mode then
    local body = string.format(
      '{"email":"%s","name":"Bench Buyer","country":"GB","consents":{"terms":true,'
        .. '"marketing_email":false,"sms":false},"utm_source":"bench","utm_medium":"wrk"}',
      email)
    return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
  end
  local body = table.concat({
    "csrfmiddlewaretoken=" .. urlencode(csrf),
    "email=" .. urlencode(email),
    "name=Bench+Buyer",
    "company=",
    "phone=",
    "country=GB",
    "consent_terms=on",
    "consent_text_terms=" .. terms_id,
    "consent_text_marketing_email=" .. marketing_id,
    "consent_text_sms=" .. sms_id,
    "started=" .. urlencode(started),
    "website=",
    "utm_source=bench",
    "utm_medium=wrk",
    "landing_page=" .. urlencode("http://127.0.0.1/start/?utm_source=bench"),
  }, "&")
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = cookie,
    ["Referer"] = "http://127.0.0.1/start/",
  }, body)
end
