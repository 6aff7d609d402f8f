"""swarmclient works without the framework extras: importing it loads neither LangGraph nor the Agents SDK."""

from __future__ import annotations

import subprocess
import sys


def test_importing_swarmclient_loads_no_framework() -> None:
    code = ("import sys, swarmclient; "
            "print(sorted(m for m in ('langgraph', 'agents', 'langchain_core') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == "[]"
