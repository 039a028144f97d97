"""Dynamic generators: num_returns="dynamic" returns one ref to a generator of refs."""

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote(num_returns="dynamic")
def split(array, chunk_size):
    while len(array) > 0:
        yield array[:chunk_size]
        array = array[chunk_size:]


array_ref = ray.put(list(range(2_500)))
block_size = 1000
dynamic_ref = split.remote(array_ref, block_size)
assert isinstance(dynamic_ref, ray.ObjectRef)

ref_generator = ray.get(dynamic_ref)
blocks = [ray.get(ref) for ref in ref_generator]
assert [len(b) for b in blocks] == [1000, 1000, 500]


@ray.remote
def get_size(ref_generator):
    # A task given the dynamic ref receives the generator of refs.
    return sum(len(ray.get(ref)) for ref in ref_generator)


assert ray.get(get_size.remote(split.remote(array_ref, block_size))) == 2_500


@ray.remote
def generator():
    for i in range(2):
        yield i
    raise Exception("error")


# Values yielded before the error stay available; the rest hold the error.
ref1, ref2, ref3, ref4 = generator.options(num_returns=4).remote()
assert ray.get([ref1, ref2]) == [0, 1]
try:
    ray.get([ref3, ref4])
except Exception:
    pass
else:
    raise AssertionError("expected the generator's error")

ref1, ref2, ref3 = ray.get(generator.options(num_returns="dynamic").remote())
assert ray.get([ref1, ref2]) == [0, 1]
try:
    ray.get(ref3)
except Exception:
    pass
else:
    raise AssertionError("expected the generator's error")

ray.shutdown()
print("ok")
