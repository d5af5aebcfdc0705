# Seed 001's callable object ("Python parallelism cheat sheet (part 2)"),
# with the print(results) of the problem it parallelises.
from multiprocessing import Pool


class Worker(object):
    ''' Function object, which wraps any constant state with the class,
    along with implementing a method to call with the varying argument
    values.
    '''
    def __init__(self, const_value):
        self.const_value = const_value

    def __call__(self, changing_stuff):
        a, b = changing_stuff
        return (a + b) * self.const_value

avalues = range(20)
bvalues = range(100, 120)
const = 100

fn = Worker(const_value=const)

# this must be an `iterable`, so a list or generator
zipped_args = zip(avalues, bvalues)

if __name__ == '__main__':
    with Pool() as pool:
        results = pool.map(fn, zipped_args)
    print(results)
