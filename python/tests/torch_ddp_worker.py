"""One rank of the two-process FrameDataset / FrameBatches tests (run by test_torch.py, not
by pytest).

    python3 torch_ddp_worker.py STORE OUT_JSON NUM_WORKERS EPOCH [samples|batches]
with MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE in the environment (gloo backend).
Writes {"rank", "world", "keys": [...], "gathered": [[...], ...]} to OUT_JSON. In "batches"
mode (FrameBatches) it runs two passes without set_epoch and also writes "keys2", the second
pass's keys (the epoch advances by itself), and "len", len(dataset) for this rank.
"""
import json
import sys

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from vlstore.torch import FrameBatches, FrameDataset, collate_frames


def batches_pass(dl):
    keys = []
    for b in dl:
        assert b["pos"].shape[0] == int(b["natoms"].sum()) == int(b["ptr"][-1])
        keys.extend(b["keys"])
    return keys


def main():
    store, out, num_workers, epoch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    mode = sys.argv[5] if len(sys.argv) > 5 else "samples"
    dist.init_process_group("gloo", init_method="env://")
    if mode == "batches":
        ds = FrameBatches(store, batch_size=16, read_size=2, seed=42, epoch=epoch,
                          num_workers=num_workers)
        dl = DataLoader(ds, batch_size=None, num_workers=num_workers)
        keys = batches_pass(dl)
        keys2 = batches_pass(dl)
        gathered = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, [keys, keys2])
        with open(out, "w") as f:
            json.dump({"rank": dist.get_rank(), "world": dist.get_world_size(), "keys": keys,
                       "keys2": keys2, "gathered": gathered, "len": len(ds),
                       "epoch": ds.epoch}, f)
        dist.destroy_process_group()
        return
    ds = FrameDataset(store, read_size=2, block_batch=16, seed=42)
    ds.set_epoch(epoch)
    dl = DataLoader(ds, batch_size=8, num_workers=num_workers, collate_fn=collate_frames)
    keys = []
    for batch in dl:
        assert batch["pos"].shape[0] == int(batch["n_sites"].sum())
        assert batch["batch"].shape[0] == batch["pos"].shape[0]
        keys.extend(batch["key"])
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, keys)  # every rank sees every rank's keys
    total = torch.tensor([len(keys)])
    dist.all_reduce(total)
    with open(out, "w") as f:
        json.dump({"rank": dist.get_rank(), "world": dist.get_world_size(), "keys": keys,
                   "gathered": gathered, "total": int(total)}, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
