"""ray.util.multiprocessing.Pool as a drop-in for multiprocessing.Pool."""

import greenroom as ray
from greenroom.util.multiprocessing import Pool


def f(index):
    return index


def square(x):
    return x * x


if __name__ == "__main__":
    ray.init(num_cpus=2)
    pool = Pool()
    results = []
    for result in pool.map(f, range(100)):
        results.append(result)
    assert results == list(range(100))

    # The rest of the multiprocessing.Pool API.
    assert list(pool.imap(square, range(5))) == [0, 1, 4, 9, 16]
    assert sorted(pool.imap_unordered(square, range(5))) == [0, 1, 4, 9, 16]
    assert pool.starmap(pow, [(2, 3), (3, 2)]) == [8, 9]
    assert pool.apply(square, (7,)) == 49
    async_result = pool.map_async(square, range(3))
    assert async_result.get(timeout=30) == [0, 1, 4]
    pool.close()
    pool.join()

    with Pool(processes=2) as pool2:
        assert pool2.map(square, [1, 2, 3]) == [1, 4, 9]
    ray.shutdown()
    print("ok")
