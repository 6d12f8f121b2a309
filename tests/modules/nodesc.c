/*
 * nodesc.c - a valid shared object that is not a squall module: it has no
 * sq_module_descriptor. squalld must say so instead of crashing.
 */
int nodesc_answer(void);

int nodesc_answer(void)
{
    return 42;
}
