"""The suite reads configs in two threads at once (the LVIS runs in the background, the other
tests in the main thread). mmengine's ``is_installed`` reloads ``pkg_resources`` on every call,
and while it reloads, a lookup in another thread finds ``working_set`` still ``None``
(``AttributeError: 'NoneType' object has no attribute 'find'``: the demo runner's test failed so
in CI). tests/conftest.py makes the two lookups one at a time; this checks that it holds."""
import threading

import mmengine.config.config as cfg_module
import mmengine.utils


def test_package_lookups_in_two_threads():
    errors, done = [], threading.Event()

    def reload_many():
        try:
            for _ in range(30):  # 18 ms each on the project's CPU
                mmengine.utils.is_installed('mmdet')
        except Exception as e:  # any failure is what this test is about
            errors.append(repr(e))
        finally:
            done.set()

    def look_up():
        while not done.is_set():
            try:
                cfg_module.get_installed_path('mmdet')
            except Exception as e:
                errors.append(repr(e))
                return

    threads = [threading.Thread(target=reload_many), threading.Thread(target=look_up)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
