int lib_answer(void);
