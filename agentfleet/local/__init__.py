"""The local fleet: the same config, scaling policy and runtime as the clouds, on one machine.

`stack` (config + files), `store` (the SQLite queue/state/bucket via the runtime's factories),
`supervisor` (agent processes), `autoscaler` (the shared policy in a loop), `progress` (live
view), `chaos`, `demo` (the burst scenario), `report`, `chart`, `sample_agent`, `cli`.
"""
