"""A Swarmsite-aware agent in 30 lines: it answers its inbox in upper case. Next to `make run`:
SWARM_TOKEN=$(.venv/bin/python manage.py create_api_token me --scope operator) .venv/bin/python examples/agent.py"""
import os

from swarmclient import DuplicateIdentity, SwarmClient, final

NAME = os.environ.get("SWARM_IDENTITY", "example-agent")
with SwarmClient(os.environ.get("SWARM_URL", "http://127.0.0.1:8000"), os.environ["SWARM_TOKEN"]) as swarm:
    swarm.register(name=NAME)
    swarm.start_heartbeat()  # keeps this agent online in the background
    try:
        swarm.create_identity(NAME, "uppercaser")
    except DuplicateIdentity:
        pass  # created on an earlier run: its checkpoints and inbox are still there
    with swarm.lease(NAME) as lease:  # renewed in the background, released on exit
        session = swarm.identity_status(NAME)["session_id"]
        print(f"{NAME} holds token {lease.token}: send it a message from its page", flush=True)
        while not lease.lost.is_set():  # a newer owner took over: stop
            claim = lease.claim(session)
            if claim is None:
                lease.lost.wait(1)
                continue
            for item in (item for batch in claim["batches"] for item in batch["items"]):
                message = item["payload"]["input"]["content"]
                text = message.get("text", "") if isinstance(message, dict) else str(message)
                out = lease.append_output(item["item_id"], 0, final(text.upper()))  # fenced by the token
                print(f"answered {text!r} with {out['ref']}", flush=True)
            lease.complete_claim(session, claim)
            lease.checkpoint(str(out["ref"]).encode())
    swarm.deregister()
