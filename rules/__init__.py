"""Rules as a service (SPEC §13): HQ's expert rules as data — triggers, conditions, actions,
A/B arms — fired from domain events and the worker's schedule, each firing recorded once."""
