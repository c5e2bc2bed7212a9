#!/usr/bin/env python3
"""PyTorch peer of `npm run bench` (bench/e2e/torch.ts runs it; not meant to be run by hand).

Times the same training steps as udi-wasm's, on the same real MNIST batches, on 1 and 2 threads:

  step:mlp-784-256-10             Linear(784, 256) + ReLU + Linear(256, 10), mean softmax cross-entropy,
                                  SGD(lr, momentum 0.9) (bench/steps.ts mlpStep);
  step:image-cnn-c8-c16-d64+head  [Conv2d(3x3, same) + ReLU + MaxPool(2)] x (8, 16 channels),
                                  Linear(784, 64) + ReLU, Linear(64, 10); mean cross-entropy,
                                  clip_grad_norm_(clipNorm), AdamW (bench/steps.ts trainerStep with the
                                  solo stage's default config). The same shapes and optimiser; not the
                                  same initial weights (PyTorch's default init).

Input: DIR/batches.json (shapes, model and optimiser settings written by the JS side) with
DIR/x.f32 (count x batch x dim float32) and DIR/y.i32 (count x batch int32 labels): the first
batches of the seeded order udi-wasm's steps cycle over. Output: one JSON object on stdout.

Timing, as bench/harness.ts: warm-up for warm_ms, then steps per timed batch sized to ~batch_ms;
rounds time one batch of each thread count in a rotating order (torch.set_num_threads, one untimed
step, then the batch); the median over `runs` rounds in which other processes used at most
other_max cores (/proc/stat busy time minus this process's CPU time), up to 3 x runs rounds.
"""
import json
import os
import re
import sys
import time

import torch

now_ms = lambda: time.perf_counter() * 1000.0


def busy_ms():
    try:
        with open('/proc/stat') as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return 10.0 * sum(x for i, x in enumerate(v) if i not in (3, 4) and i <= 7)
    except OSError:
        return None


class OtherCpu:
    """Cores used by other processes while a round runs, or None (as bench/meter.ts)."""

    def start(self):
        self.t0, self.b0, self.own0 = now_ms(), busy_ms(), os.times()

    def stop(self):
        b = busy_ms()
        if b is None or self.b0 is None:
            return None
        t = os.times()
        own = 1000.0 * ((t.user - self.own0.user) + (t.system - self.own0.system))
        return max(0.0, b - self.b0 - own) / max(1.0, now_ms() - self.t0)


def median(xs):
    s = sorted(xs)
    h = len(s) // 2
    return s[h] if len(s) % 2 else (s[h - 1] + s[h]) / 2


def load(d):
    meta = json.load(open(os.path.join(d, 'batches.json')))
    n, b, dim = meta['count'], meta['batch'], meta['dim']
    x = torch.frombuffer(bytearray(open(os.path.join(d, 'x.f32'), 'rb').read()), dtype=torch.float32).reshape(n, b, dim)
    y = torch.frombuffer(bytearray(open(os.path.join(d, 'y.i32'), 'rb').read()), dtype=torch.int32).reshape(n, b).long()
    return meta, x, y


def mlp_step(meta, xs, ys):
    m = meta['mlp']
    net = torch.nn.Sequential(torch.nn.Linear(meta['dim'], m['hidden']), torch.nn.ReLU(), torch.nn.Linear(m['hidden'], meta['classes']))
    opt = torch.optim.SGD(net.parameters(), lr=m['lr'], momentum=m['momentum'])
    return net, opt, None, lambda x: x


def cnn_step(meta, xs, ys):
    c = meta['cnn']
    h, w, ch = c['input']
    layers, cin = [], ch
    for cout in c['channels']:
        layers += [torch.nn.Conv2d(cin, cout, c['kernel'], padding=c['kernel'] // 2), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
        cin, h, w = cout, h // 2, w // 2
    layers += [torch.nn.Flatten(), torch.nn.Linear(cin * h * w, c['dense']), torch.nn.ReLU(), torch.nn.Linear(c['dense'], meta['classes'])]
    net = torch.nn.Sequential(*layers)
    a = c['adamw']
    opt = torch.optim.AdamW(net.parameters(), lr=a['lr'], betas=(a['beta1'], a['beta2']), eps=a['eps'], weight_decay=a['weightDecay'])
    # udi-wasm's input is h x w x c row-major; with c = 1 that is the same memory as N x 1 x h x w.
    shape = (-1, ch, c['input'][0], c['input'][1])
    return net, opt, c.get('clipNorm'), lambda x: x.reshape(shape)


def stepper(make, meta, xs, ys):
    net, opt, clip, view = make(meta, xs, ys)
    loss_fn = torch.nn.CrossEntropyLoss()
    xs = [view(x) for x in xs]
    k = [0]

    def step():
        i = k[0] % len(xs)
        k[0] += 1
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(net(xs[i]), ys[i])
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        return loss.item()

    return step


def time_threads(step, threads, o):
    meter = OtherCpu()
    sizes = {}
    for t in threads:
        torch.set_num_threads(t)
        t0, calls = now_ms(), 0
        while calls < 5 or now_ms() - t0 < o['warmMs']:
            step()
            calls += 1
        probe = max(1, min(32, round(calls / 4)))
        t1 = now_ms()
        for _ in range(probe):
            step()
        sizes[t] = max(1, round(o['batchMs'] / ((now_ms() - t1) / probe)))
    rounds, r = [], 0
    clean = lambda rd: rd['other'] is None or rd['other'] <= o['otherMax']
    while sum(map(clean, rounds)) < o['runs'] and r < 3 * o['runs']:
        meter.start()
        ms = {}
        for j in range(len(threads)):
            t = threads[(j + r) % len(threads)]
            torch.set_num_threads(t)
            step()
            t1 = now_ms()
            for _ in range(sizes[t]):
                step()
            ms[t] = (now_ms() - t1) / sizes[t]
        rounds.append({'ms': ms, 'other': meter.stop()})
        r += 1
    used = [rd for rd in rounds if clean(rd)]
    if len(used) < o['runs']:
        used = rounds
    others = [rd['other'] for rd in used if rd['other'] is not None]
    out = []
    for t in threads:
        per = [rd['ms'][t] for rd in used]
        out.append({'threads': t, 'msPerStep': median(per), 'minMs': min(per), 'maxMs': max(per), 'stepsPerBatch': sizes[t], 'runs': len(used), 'roundsDiscarded': len(rounds) - len(used), 'otherCpu': median(others) if others else None})
    return out


def main():
    d = sys.argv[1]
    meta, x, y = load(d)
    o = meta['timing']
    xs, ys = list(x.unbind(0)), list(y.unbind(0))
    cfg = torch.__config__.show()
    result = {
        'torch': torch.__version__,
        'python': sys.version.split()[0],
        'defaultThreads': torch.get_num_threads(),
        'blas': next(iter(re.findall(r'BLAS_INFO=([^,\s]+)', cfg)), None),
        'mkldnn': torch.backends.mkldnn.is_available(),
        'batches': len(xs),
        'steps': [],
    }
    for name, make in (('step:mlp-784-256-10', mlp_step), ('step:image-cnn-c8-c16-d64+head', cnn_step)):
        torch.manual_seed(0)
        step = stepper(make, meta, xs, ys)
        torch.set_num_threads(1)
        first = step()
        for row in time_threads(step, o['threads'], o):
            result['steps'].append({'name': name, 'firstLoss': first, **row})
    try:  # which BLAS library was really loaded (Debian: the reference BLAS unless libopenblas0-pthread is installed)
        with open('/proc/self/maps') as f:
            result['blasLoaded'] = sorted({line.split()[-1] for line in f if 'blas' in line.lower() and '/' in line})
    except OSError:
        result['blasLoaded'] = None
    json.dump(result, sys.stdout)


main()
