"""glTF encoding: tile meshes -> glb bytes (builder, metadata, compression, instancing,
textures). Never imports :mod:`tiles.build`."""
