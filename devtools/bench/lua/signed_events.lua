-- Sends distinct, pre-signed Stripe events. Each line of the file given as the first argument is
-- "<Stripe-Signature>\t<body>"; thread k of n sends lines k, k+n, k+2n, ... in turn, so no two
-- threads send the same event (the file holds more events than a run sends).
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  requests = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == id - 1 then
      local tab = line:find("\t", 1, true)
      local headers = {}
      headers["Stripe-Signature"] = line:sub(1, tab - 1)
      headers["Content-Type"] = "application/json"
      requests[#requests + 1] = wrk.format("POST", nil, headers, line:sub(tab + 1))
    end
    i = i + 1
  end
  index = 0
end

function request()
  index = index % #requests + 1
  return requests[index]
end
