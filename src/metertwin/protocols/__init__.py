"""Sans-IO framing layers (TCP wrapper, HDLC, later IEC 62056-21, ...): fed bytes, they return
whole frames; the asyncio transports around them stay thin (architecture principle 4)."""

__all__ = ["FramingError"]


class FramingError(Exception):
    """Bytes that break a framing protocol; the transport closes that connection."""
