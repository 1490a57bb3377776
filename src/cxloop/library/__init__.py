"""The library's methods, grouped by what they are about: mixins of :class:`cxloop.Cxloop`
(``cxloop.client``), which users import from ``cxloop``."""
