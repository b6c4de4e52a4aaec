/* parleyd entry point (skeleton; the server lands in the next commits). */
#include <stdio.h>

int main(void)
{
    puts("parleyd " PARLEY_VERSION);
    return 0;
}
