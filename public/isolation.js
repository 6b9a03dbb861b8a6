// Threads on hosts that cannot send COOP/COEP headers (GitHub Pages): a service worker
// (isolation-sw.js) adds them to this site's pages and workers, so the page becomes
// cross-origin isolated and the app starts its threaded worker. Off unless the host turns it on
// below (README, "Threads"). Costs: the first visit loads the page twice.
const SERVICE_WORKER_ON = false;

(() => {
  const RELOADED = 'isolation-service-worker-reloaded';
  const oneThread = (error) => console.warn(`isolation.js: ${error.message}; the model runs on one thread`);
  try {
    // Where storage is blocked, reading navigator.serviceWorker or sessionStorage throws.
    const serviceWorkers = navigator.serviceWorker;
    if (!serviceWorkers) return; // not a secure context, or no service workers: one thread
    const script = new URL('isolation-sw.js', document.currentScript.src);
    if (!SERVICE_WORKER_ON) {
      // Turned off again: one left from when it was on goes once this page has loaded.
      addEventListener('load', async () => {
        const registration = await serviceWorkers.getRegistration(new URL('./', script));
        if (registration?.active?.scriptURL !== script.href || !(await registration.unregister())) return;
        console.info('isolation.js: service worker removed; the next visit runs on one thread');
      });
      return;
    }
    if (window.crossOriginIsolated) {
      sessionStorage.removeItem(RELOADED);
      return;
    }
    // In an iframe the page can be isolated only if the page around it is: no reload for nothing.
    if (window.top !== window.self) return;
    serviceWorkers.register(script).then(async () => {
      await serviceWorkers.ready; // active: the reload goes through it
      // Once per tab: if the reloaded page is still not isolated, it stays on one thread.
      if (sessionStorage.getItem(RELOADED)) return;
      sessionStorage.setItem(RELOADED, '1');
      location.reload();
    }).catch(oneThread);
  } catch (error) {
    oneThread(error);
  }
})();
