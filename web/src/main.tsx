import '@mantine/core/styles.css';
import './app.css';
import { createTheme, MantineProvider } from '@mantine/core';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { lazy, StrictMode, Suspense } from 'react';
import { createRoot } from 'react-dom/client';
import { I18nProvider } from './i18n/index.tsx';
import { ApiError } from './lib/api.ts';

const ConsoleApp = lazy(() => import('./console/ConsoleApp.tsx'));
const PortalApp = lazy(() => import('./portal/PortalApp.tsx'));

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A 401/403/404 will not get better by asking again; a 429 (the per-address budget) or a
      // 5xx (503 under pressure) may, after a pause.
      retry: (n, e) => n < 2 && !(e instanceof ApiError && e.status < 500 && e.status !== 429),
      refetchOnWindowFocus: false,
      staleTime: 10_000,
    },
  },
});

// Darker primary shades so that white-on-primary text passes WCAG AA (axe: color-contrast).
const theme = createTheme({ primaryColor: 'indigo', primaryShade: 8 });

const portal = location.pathname.startsWith('/portal');
document.title = portal ? 'Custodian portal' : 'Custodian console';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <MantineProvider theme={theme}>
      <QueryClientProvider client={queryClient}>
        <I18nProvider>
          <Suspense fallback={null}>{portal ? <PortalApp /> : <ConsoleApp />}</Suspense>
        </I18nProvider>
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
