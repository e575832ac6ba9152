def lib_answer():
    return 46
