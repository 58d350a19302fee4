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

local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- Everything but the email is the same on every request: encoded once here, so the load
-- generator (which shares the machine's two cores with the server) spends as little as it can.
local form_head, form_tail, headers

function init(args)
  path, cookie, csrf, started = args[1], args[2], args[3], args[4]
  terms_id, marketing_id, sms_id = args[5], args[6], args[7]
  json_mode = args[8] == "json"
  thread_id = tonumber(wrk.thread:get("tid")) or 0
  run_id = tostring(os.time())
  form_head = "csrfmiddlewaretoken=" .. urlencode(csrf) .. "&email="
  form_tail = "&" .. table.concat({
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
  headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = cookie,
    ["Referer"] = "http://127.0.0.1/start/",
  }
end

local json_headers = {["Content-Type"] = "application/json"}

function request()
  counter = counter + 1
  if json_mode then
    local body = string.format(
      '{"email":"bench-%s-%d-%d@example.com","name":"Bench Buyer","country":"GB",'
        .. '"consents":{"terms":true,"marketing_email":false,"sms":false},'
        .. '"utm_source":"bench","utm_medium":"wrk"}',
      run_id, thread_id, counter)
    return wrk.format("POST", path, json_headers, body)
  end
  -- The email has no character to encode but the "@".
  local body = form_head
    .. string.format("bench-%s-%d-%d%%40example.com", run_id, thread_id, counter)
    .. form_tail
  return wrk.format("POST", path, headers, body)
end
