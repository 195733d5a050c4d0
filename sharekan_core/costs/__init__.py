"""Cost models of running a head, computed from shapes and bit-widths, never measured: which cache level each
part of a compressed head's working set fits in (``cache_residency``, against this host and the named parts in
``cache_parts``), the bytes one forward call touches per item and cache level (``memory_traffic``), and an
energy estimate from those bytes (``energy``). They model the kernels in ``runtime/`` and sit beside it; nothing
in ``runtime/`` imports them."""
