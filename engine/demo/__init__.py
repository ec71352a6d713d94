"""Demo and benchmark tooling: demo people, a generated office history, and an autopilot that
drives requests forward without people."""
