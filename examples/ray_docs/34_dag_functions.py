"""Ray DAG with functions: .bind() builds a lazy graph; execute() runs it."""

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
def func(src, inc=1):
    return src + inc


a_ref = func.bind(1, inc=2)
assert ray.get(a_ref.execute()) == 3  # 1 + 2 = 3
b_ref = func.bind(a_ref, inc=3)
assert ray.get(b_ref.execute()) == 6  # (1 + 2) + 3 = 6
c_ref = func.bind(b_ref, inc=a_ref)
assert ray.get(c_ref.execute()) == 9  # ((1 + 2) + 3) + (1 + 2) = 9

ray.shutdown()
print("ok")
