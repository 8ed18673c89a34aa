"""Store tasks: the lifecycle of SPEC §3, claims, proof, review, events and photo blobs."""
