"""Events: what the firewall decided, with nothing raw in it, and where they are written."""

from firewall.events.event import Event, EventFinding
from firewall.events.sinks import JsonlSink, Sink, SQLiteSink, sink_from_uri
from firewall.events.writer import EventWriter

__all__ = ["Event", "EventFinding", "EventWriter", "JsonlSink", "SQLiteSink", "Sink", "sink_from_uri"]
