/* Spins forever (a TLE under any limit). */
int main(void)
{
    volatile unsigned long x = 0;
    for (;;)
        x++;
}
