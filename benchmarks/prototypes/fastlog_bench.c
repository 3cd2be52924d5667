#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "fastlog.h"
static double now(){struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t); return t.tv_sec+1e-9*t.tv_nsec;}
static inline double sigmoid(double z){ if (z>=0) return 1.0/(1.0+exp(-z)); double e=exp(z); return e/(1.0+e);}
static inline double log1pexp(double z){ if (z>0) return z+log1p(exp(-z)); return log1p(exp(z));}
int main(){
  long n=200; int reps=200000; double *z=malloc(n*8), *y=malloc(n*8), *g=malloc(n*8), *g2=malloc(n*8);
  srand(1); for(long i=0;i<n;i++){ z[i]=8.0*rand()/RAND_MAX-4.0; y[i]=rand()%2; }
  double s=0,t0,t;
  t0=now(); for(int r=0;r<reps;r++){ for(long i=0;i<n;i++){ g2[i]=sigmoid(z[i])-y[i]; s+=log1pexp(z[i])-y[i]*z[i]; } __asm__ volatile(""::"r"(g2):"memory"); } t=now()-t0;
  printf("libm scalar (current): %.2f ns/sample\n", t/n/reps*1e9);
  t0=now(); for(int r=0;r<reps;r++){ s+=logistic_block(z,y,g,n,1); __asm__ volatile(""::"r"(g):"memory"); } t=now()-t0;
  printf("vectorisable block, with loss: %.2f ns/sample\n", t/n/reps*1e9);
  t0=now(); for(int r=0;r<reps;r++){ s+=logistic_block(z,y,g,n,0); __asm__ volatile(""::"r"(g):"memory"); } t=now()-t0;
  printf("vectorisable block, gradient only: %.2f ns/sample\n", t/n/reps*1e9);
  /* accuracy over a wide range */
  double maxrel_e=0, maxrel_l=0, maxabs_g=0;
  for (long k=0;k<2000000;k++){ double x = -40.0 + 80.0*k/2000000.0; 
    double e = exp_nonpos(-fabs(x)), er = exp(-fabs(x)); double re=fabs(e-er)/er; if(re>maxrel_e) maxrel_e=re;
    double l = log1p_unit(er), lr = log1p(er); double rl = fabs(l-lr)/lr; if (rl>maxrel_l) maxrel_l=rl;
    double zz[1]={x}, yy[1]={0}, gg[1]; logistic_block(zz,yy,gg,1,0); double d=fabs(gg[0]-sigmoid(x)); if(d>maxabs_g) maxabs_g=d; }
  printf("max rel err exp %.2e, log1p %.2e, max abs err sigmoid %.2e\n", maxrel_e, maxrel_l, maxabs_g);
  for (double x=-745; x<=0; x+=0.37){ double e=exp_nonpos(x), er=exp(x); if (er>1e-300 && fabs(e-er)/er>1e-15) {printf("exp bad at %g: %g vs %g\n",x,e,er); break;} }
  printf("%g\n", s);
}
