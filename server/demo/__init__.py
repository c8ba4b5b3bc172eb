"""The demo district: a deterministic Lixia CBD data set, its build and a sensor simulator.

``generate.generate_demo`` writes the sources, ``build.build_demo`` imports them through
the other packages' library functions, ``simulator`` plays live sensor readings.
"""
