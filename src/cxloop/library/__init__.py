"""The library surface, by subject: mixin classes that :class:`cxloop.Cxloop` inherits."""
