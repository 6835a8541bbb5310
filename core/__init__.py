"""What every other package builds on: the exception hierarchy, atomic files, YAML configs.

* :mod:`core.errors`: :class:`~core.errors.TSCError` and its subclasses, the only exceptions the
  project raises on purpose.
* :mod:`core.files`: atomic writes (temporary file + ``os.replace``), sha256, tolerant JSON reads.
* :mod:`core.config`: YAML files and ``section.field=value`` overrides validated into pydantic
  models, with errors that name the field.

It imports nothing of the project, so the one-way order is
``core -> scenarios -> envs -> agents -> evaluation -> entry points``.
"""
