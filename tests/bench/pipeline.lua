-- pipeline.lua - wrk script: each batch is 16 pipelined GET requests for
-- the URL's path, written at once on a keep-alive connection.
--
--   wrk -t1 -c64 -d10s -s tests/bench/pipeline.lua http://127.0.0.1:8080/
--
-- wrk counts every response, so Requests/sec is responses per second; it
-- writes the next batch on a connection once all answers to the last one
-- have arrived (its latency figures are not meaningful here). Another
-- depth may be given after "--":  wrk ... -s pipeline.lua URL -- 32

local depth = 16

-- init() runs once per wrk thread, after wrk has set the Host header, so
-- the batch is built here and request() only hands out the same string.
function init(args)
   local n = tonumber(args[1]) or depth
   local r = {}
   for i = 1, math.max(1, math.floor(n)) do
      r[i] = wrk.format("GET", wrk.path)
   end
   req = table.concat(r)
end

function request()
   return req
end
