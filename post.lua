wrk.method = "POST"
wrk.body = '{"command": "ping"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer t"
