# Seed 000's five examples ("Multiprocessing Pool Function Types") in one
# program: each example's pool call, with the exception it raises printed
# instead of ending the program. Each task sleeps a tenth of its value
# (the seed sleeps all of it).
from time import sleep
from random import random
from multiprocessing import Pool

# do work
def task():
    value = random()
    sleep(value / 10)
    return value

# custom class
class CustomClass():
    # do work
    def task(self):
        value = random()
        sleep(value / 10)
        return value

    @staticmethod
    def static_task():
        value = random()
        sleep(value / 10)
        return value

def main():
    # define a nested inner function
    def task():
        value = random()
        sleep(value / 10)
        return value
    with Pool() as pool:
        try:
            print(pool.apply(task))
        except Exception as e:
            print(type(e).__name__ + ":", e)

# protect the entry point
if __name__ == '__main__':
    with Pool() as pool:
        # a function
        result = pool.apply_async(task)
        print(result.get())
        # a lambda
        l = lambda : sleep(1)
        try:
            pool.apply(l)
        except Exception as e:
            print(type(e).__name__ + ":", e)
    # a nested inner function
    main()
    obj = CustomClass()
    with Pool() as pool:
        # a method
        print(pool.apply(obj.task))
        # a static method
        print(pool.apply(CustomClass.static_task))
