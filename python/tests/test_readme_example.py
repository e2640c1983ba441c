"""The seed README's example, as written there, with its two typos mended (`NAME` -> `name`,
`del storage` -> `del storage_interface`), plus checks of what it stored."""
import numpy as np


def test_seed_readme_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    # ---- verbatim from the seed README (two typos mended) --------------------------------
    import numpy as np
    # these data types are how we represent and serialize a frame of MD data.
    from vlstore.serialize import BackedAtomicDataCodec, BackedAtomicData
    # these classes allow us to save and load data from disk.
    from vlstore.store import Depot, SChunkStore

    # number of time snapshots to create
    N_FRAMES = 300
    # number of atoms in each snapshot
    NSITES = 1200
    # types of each atom
    TYPES = np.arange(NSITES, dtype=np.int32)
    # masses of each atom
    MASSES = np.random.rand(NSITES).astype(np.float32)  # noqa: NPY002
    # positions and forces for entire trajectory that we will store
    POSITIONS = np.random.rand(N_FRAMES, NSITES, 3).astype(np.float32)  # noqa: NPY002
    FORCES = np.random.rand(N_FRAMES, NSITES, 3).astype(np.float32)  # noqa: NPY002

    FILENAME = "mol.store"

    # SChunkStore allows us to store bytes on disk using blosc2, a high performance i/o library.
    #  The options here change details of how the data is stored on disk and change performance.
    #
    #  To create an in-memory compressed store, set FILENAME to None.
    storage_interface = SChunkStore(chunksize=int(2**22), location=FILENAME, start_aligned=False)
    # Depot allows us to translate our objects to and from bytes, allowing us to store them in the storage_interface.
    with Depot(codec=BackedAtomicDataCodec, backing=storage_interface) as d:
        # go through our generated data and store it frame by frame. This is currently the slowest part of the library.
        for ident, (pos_frame, force_frame) in enumerate(zip(POSITIONS, FORCES)):
            name = "frame_" + str(ident)
            # new contains our formatted in-memory data. Doing an operation like this is often required,
            # as fast serialization requires us to understand the stored types in a fundamental way.
            new = BackedAtomicData.from_values(
                name=name,
                masses=MASSES,
                atom_types=TYPES,
                nsites=NSITES,
                positions=pos_frame,
                forces=force_frame,
            )

            # store data on disk
            d.put(name, new)

    del storage_interface # our data was flushed to disk after leaving the with block

    # we recreate the interface fresh. When loading existing files, parameters are not needed.
    storage_interface = SChunkStore(location=FILENAME)
    with Depot(codec=BackedAtomicDataCodec, backing=storage_interface) as d:
        # load single frame
        name = "frame_" + str(0)
        # retrieved is a reconstructed BackedAtomicData object
        retrieved = d.get(name)
    # ---- end of the README's code ----------------------------------------------------------

    assert retrieved.name == "frame_0"
    assert retrieved.n_sites == NSITES
    assert np.array_equal(retrieved.pos, POSITIONS[0])
    assert np.array_equal(retrieved.forces, FORCES[0])
    assert np.array_equal(retrieved.masses, MASSES)
    assert np.array_equal(retrieved.atom_types, TYPES)
    # the reopened store is read-only (the seed's rule for existing files) and complete
    assert storage_interface.read_only
    assert len(storage_interface) == N_FRAMES
    for i in (1, 150, 299):
        f = Depot(codec=BackedAtomicDataCodec, backing=storage_interface).get(f"frame_{i}")
        assert np.array_equal(f.pos, POSITIONS[i])
    # and it is a real file on disk, compressed less than the raw float data (random floats)
    assert (tmp_path / FILENAME).stat().st_size > 0


def test_project_readme_python_example(tmp_path, monkeypatch):
    """README.md's "Python in one example" runs as printed, and its batch is right."""
    import os
    import re

    readme = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
    text = open(readme, encoding="utf-8").read()
    section = text.split("## Python in one example", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    b = scope["batch"]  # the epoch's last batch
    assert b["pos"].dtype == np.float32 and b["pos"].shape == (int(b["natoms"].sum()), 3)
    assert b["atomic_numbers"].dtype == np.int64 and (b["atomic_numbers"] == 6).all()
    for j, k in enumerate(b["keys"]):
        assert b["energy"][j] == -float(k.split("_")[1])
