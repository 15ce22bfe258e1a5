"""What the tests and the benchmarks share: the in-process chat, a clock the test controls, the record key, the
fake Slack Web API and Bot Framework connector (fakes/), the harnesses that drive our real server with signed
Slack requests and Teams activities (slack_harness.py, teams_harness.py), a real `serve` process
(server_process.py) and the `chat --json` process (cli_runner.py). Everything stays on 127.0.0.1."""
