"""The demo swarm: simulated agents that use `swarmclient` against a running Swarmsite.

`manage.py demo_swarm --url URL` (and `make run`) seed a roster and run them; they register,
heartbeat, take leases, answer inbox messages with deterministic text work, append outputs with
lineage, checkpoint, and misbehave now and then so the dashboard shows expiry, lease loss, rejected
stale writes and recovery. No Django import: it talks to the server over HTTP only."""
