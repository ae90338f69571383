import './store.css';

// A little interactivity so the demo pages feel like shops (the cart is fake).
// Each page gives its own words: <body data-shop="..." data-add="..." data-added="...">.
const d = document.body.dataset;
const shop = d.shop || 'Calma Demo Store';
const addLabel = d.add || 'Añadir';
const addedLabel = d.added || '✓ Añadido';
let count = 0;
document.addEventListener('click', (e) => {
  const btn = (e.target as HTMLElement).closest('button.add');
  if (!btn) return;
  count++;
  btn.textContent = addedLabel;
  setTimeout(() => (btn.textContent = addLabel), 1500);
  document.title = `(${count}) ${shop}`;
});
