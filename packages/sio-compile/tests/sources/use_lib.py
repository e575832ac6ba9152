from libmod import lib_answer

print("answer", lib_answer())
